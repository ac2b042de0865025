//! The server's integration tests, one module per subject, in one binary
//! (the server is linked once). Each test starts its own app on a free port,
//! with its own session store, against a provider in the test process
//! (`support`).

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

mod events;
mod features;
mod hostile_browser;
mod hostile_provider;
mod interleavings;
mod metrics;
mod operations;
mod scale_out;
mod sign_in;
mod your_sessions;
