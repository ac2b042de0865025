//! What an operator sees of the BFF at work: counters and latency
//! histograms in Prometheus' text format, served only on `METRICS_ADDR`
//! (see `server/src/lib.rs`).
//!
//! No label can hold anything about a user: every label value is one of a
//! fixed set named in this file (or the route pattern the router matched,
//! never the path that was asked for).

use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Why a session ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The user's own logout.
    Logout,
    /// Past its idle timeout…
    Idle,
    /// …or its lifetime.
    Lifetime,
    /// An Authgear webhook event (user disabled, deleted, signed out…).
    Webhook,
    /// OpenID Connect Back-Channel Logout.
    BackChannel,
    /// The provider no longer honours its grant: a refresh, or a liveness
    /// check, was refused.
    Liveness,
    /// A new sign-in in the same browser replaced it.
    Replaced,
    /// Signed out from another of the user's sessions ("Your sessions").
    SignedOutElsewhere,
}

impl Ended {
    /// The deadline a session whose lifetime ends at `ends_at` reached at
    /// `now`: its lifetime, or else its idle timeout.
    pub(crate) fn at_deadline(ends_at: time::OffsetDateTime, now: time::OffsetDateTime) -> Self {
        if now >= ends_at {
            Ended::Lifetime
        } else {
            Ended::Idle
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Ended::Logout => "logout",
            Ended::Idle => "idle",
            Ended::Lifetime => "lifetime",
            Ended::Webhook => "webhook",
            Ended::BackChannel => "back_channel",
            Ended::Liveness => "liveness",
            Ended::Replaced => "replaced",
            Ended::SignedOutElsewhere => "signed_out_elsewhere",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Call {
    endpoint: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Operation {
    operation: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Cause {
    cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Event {
    event: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Lookup {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
    method: &'static str,
    status: u16,
}

type Latencies<L> = Family<L, Histogram, fn() -> Histogram>;

/// From 1 ms to about 16 s: a cached page, a store round trip, a slow
/// provider, a timeout.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Every metric of one app instance, in its own registry.
pub struct Metrics {
    registry: Registry,
    sign_ins: Family<Outcome, Counter>,
    refreshes: Family<Outcome, Counter>,
    provider_calls: Latencies<Call>,
    store_operations: Latencies<Operation>,
    sessions_ended: Family<Cause, Counter>,
    webhook_events: Family<Event, Counter>,
    cache_lookups: Family<Lookup, Counter>,
    requests: Latencies<Route>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut metrics = Self {
            registry: Registry::with_prefix("authgear"),
            sign_ins: Family::default(),
            refreshes: Family::default(),
            provider_calls: Family::new_with_constructor(latency),
            store_operations: Family::new_with_constructor(latency),
            sessions_ended: Family::default(),
            webhook_events: Family::default(),
            cache_lookups: Family::default(),
            requests: Family::new_with_constructor(latency),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "sign_ins",
            "Sign-ins that reached the callback, by outcome: ok or the error kind",
            metrics.sign_ins.clone(),
        );
        registry.register(
            "refreshes",
            "Token refreshes, by outcome: ok, refused, lost_answer (the provider may have spent the token), failed, spent_elsewhere (another request or instance refreshed first), lock_lost, not_stored, session_ended",
            metrics.refreshes.clone(),
        );
        registry.register(
            "provider_call_seconds",
            "Calls to the identity provider, by endpoint and outcome",
            metrics.provider_calls.clone(),
        );
        registry.register(
            "store_operation_seconds",
            "Session store operations, by operation and outcome (ok or error)",
            metrics.store_operations.clone(),
        );
        registry.register(
            "sessions_ended",
            "Sessions ended, by cause",
            metrics.sessions_ended.clone(),
        );
        registry.register(
            "webhook_events",
            "Authgear webhook events received, by type and outcome",
            metrics.webhook_events.clone(),
        );
        registry.register(
            "session_cache_lookups",
            "Reads of a session through this instance's cache, by result: hit or miss",
            metrics.cache_lookups.clone(),
        );
        registry.register(
            "http_request_seconds",
            "Requests, by the route pattern that served them, method and status",
            metrics.requests.clone(),
        );
        metrics
    }
}

impl Metrics {
    /// Everything, in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a `String` cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// A sign-in's callback ended: `ok`, or the error's kind.
    pub(crate) fn sign_in(&self, outcome: &'static str) {
        self.sign_ins.get_or_create(&Outcome { outcome }).inc();
    }

    pub(crate) fn refresh(&self, outcome: &'static str) {
        self.refreshes.get_or_create(&Outcome { outcome }).inc();
    }

    /// A call to the provider's `endpoint`, begun at `started`.
    pub(crate) fn provider_call(&self, endpoint: &'static str, started: Instant, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.provider_calls
            .get_or_create(&Call { endpoint, outcome })
            .observe(started.elapsed().as_secs_f64());
    }

    /// A store `operation`, begun at `started`.
    pub(crate) fn store_operation(&self, operation: &'static str, started: Instant, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.store_operations
            .get_or_create(&Operation { operation, outcome })
            .observe(started.elapsed().as_secs_f64());
    }

    pub(crate) fn session_ended(&self, cause: Ended) {
        self.sessions_ended_by(cause, 1);
    }

    pub(crate) fn sessions_ended_by(&self, cause: Ended, count: usize) {
        let count = u64::try_from(count).unwrap_or(u64::MAX);
        self.sessions_ended
            .get_or_create(&Cause {
                cause: cause.as_str(),
            })
            .inc_by(count);
    }

    /// A webhook event of `event` type (one of the types the app knows, or
    /// `other`) and what became of it.
    pub(crate) fn webhook_event(&self, event: &'static str, outcome: &'static str) {
        self.webhook_events
            .get_or_create(&Event { event, outcome })
            .inc();
    }

    pub(crate) fn cache_lookup(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache_lookups.get_or_create(&Lookup { result }).inc();
    }

    /// A request served by `route` (the pattern the router matched, or
    /// `unmatched`).
    pub fn request(&self, route: &str, method: &axum::http::Method, status: u16, took: Duration) {
        use axum::http::Method;
        let method = match *method {
            Method::GET => "GET",
            Method::HEAD => "HEAD",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::DELETE => "DELETE",
            Method::PATCH => "PATCH",
            Method::OPTIONS => "OPTIONS",
            _ => "other",
        };
        self.requests
            .get_or_create(&Route {
                route: route.to_owned(),
                method,
                status,
            })
            .observe(took.as_secs_f64());
    }
}
