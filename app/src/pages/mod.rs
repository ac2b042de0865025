//! One file per route. `standalone` holds the few pages the server sends
//! outside the app's router (errors and the hop after sign-in).

pub mod admin;
pub mod home;
pub mod logout;
pub mod not_found;
pub mod security;
pub mod sessions;
#[cfg(feature = "ssr")]
pub mod standalone;
