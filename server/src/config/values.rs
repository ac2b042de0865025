//! Reading the environment's values: each switch, duration, URL and list
//! parsed once, with the message that says how to fix it.

use app::auth::is_loopback;
use openidconnect::{IssuerUrl, Scope};
use url::Url;

use super::ConfigError;

/// The environment as the app reads it: a variable set to blanks (as
/// `.env.example` leaves them) counts as unset.
pub(super) struct Vars<F>(pub(super) F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    pub(super) fn get(&self, var: &str) -> Option<String> {
        (self.0)(var)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    pub(super) fn require(
        &self,
        var: &'static str,
        hint: &'static str,
    ) -> Result<String, ConfigError> {
        self.get(var).ok_or(ConfigError::Missing { var, hint })
    }

    /// `on` or `off`; `None` when unset. `usage` is the message for any
    /// other value.
    pub(super) fn switch(
        &self,
        var: &'static str,
        usage: &str,
    ) -> Result<Option<bool>, ConfigError> {
        match self.get(var).as_deref() {
            None => Ok(None),
            Some("on") => Ok(Some(true)),
            Some("off") => Ok(Some(false)),
            Some(_) => Err(ConfigError::Invalid {
                var,
                reason: usage.into(),
            }),
        }
    }

    /// A duration (see [`parse_duration`]) within `seconds`; `None` when unset.
    pub(super) fn duration(
        &self,
        var: &'static str,
        seconds: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<std::time::Duration>, ConfigError> {
        self.get(var)
            .map(|value| parse_duration(var, &value, seconds))
            .transpose()
    }

    /// A duration, or `off` (`Some(None)`); `None` when unset.
    pub(super) fn duration_or_off(
        &self,
        var: &'static str,
        seconds: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<Option<std::time::Duration>>, ConfigError> {
        match self.get(var).as_deref() {
            Some("off") => Ok(Some(None)),
            _ => Ok(self.duration(var, seconds)?.map(Some)),
        }
    }
}

/// `myapp.authgear.cloud` means `https://myapp.authgear.cloud`; a full
/// origin is taken as it is, and plain http only for this machine.
pub(super) fn parse_issuer(value: &str) -> Result<IssuerUrl, ConfigError> {
    let var = "AUTHGEAR_DOMAIN";
    let url = parse_origin(var, value, "myapp.authgear.cloud")?;
    // The issuer has no trailing slash: discovery appends the well-known path.
    IssuerUrl::new(url.origin().ascii_serialization()).map_err(|error| ConfigError::Invalid {
        var,
        reason: error.to_string(),
    })
}

pub(super) fn parse_app_url(value: &str) -> Result<Url, ConfigError> {
    parse_origin("APP_URL", value, "https://app.example.com")
}

/// A bare host or an origin (scheme, host, optional port; no path, query or
/// credentials), https unless the host is a loopback one.
pub(super) fn parse_origin(
    var: &'static str,
    value: &str,
    example: &str,
) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid { var, reason };
    // `user:password@host`, even mistyped, must not reach a log or a terminal.
    let shown = if value.contains('@') {
        "the value (not shown: it may hold credentials)".to_owned()
    } else {
        format!("{value:?}")
    };
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("https://{value}")
    };
    let url = Url::parse(&with_scheme).map_err(|error| {
        invalid(format!(
            "{shown} is not a host name or URL ({error}); expected something like {example}"
        ))
    })?;
    // Checked first, and without echoing the value: it holds a password.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(format!(
            "it contains credentials; give only the origin, like {example}"
        )));
    }
    let host = url.host().ok_or_else(|| {
        invalid(format!(
            "{shown} has no host; expected something like {example}"
        ))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            return Err(invalid(format!(
            "{shown} uses plain http; use https (http is only allowed for localhost and 127.0.0.1)"
        )))
        }
        scheme => return Err(invalid(format!("{shown} has scheme {scheme:?}; use https"))),
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(format!(
            "{shown} has a path or query; give only the origin, like {example}"
        )));
    }
    Ok(url)
}

/// `redis://[:password@]host[:port][/db]` or `rediss://…` (TLS), or for a
/// cluster `redis-cluster://host:port?node=host:port&…` (`rediss-cluster`).
/// Never echoed: it may hold a password.
pub(super) fn parse_redis_url(value: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: &str| {
        ConfigError::Invalid {
        var: "REDIS_URL",
        reason: format!("{reason}; expected something like redis://127.0.0.1:6379/0 (the value is not shown: it may hold a password)"),
    }
    };
    let url = Url::parse(value).map_err(|_| invalid("it is not a URL"))?;
    if !matches!(
        url.scheme(),
        "redis" | "rediss" | "redis-cluster" | "rediss-cluster"
    ) {
        return Err(invalid(
            "its scheme is not redis, rediss, redis-cluster or rediss-cluster",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    Ok(url)
}

/// How long a session read may be reused: `off`, `1s`, or milliseconds up to
/// a second (`250ms`). Longer would let a logout on another instance go
/// unnoticed here for longer than the app promises.
pub(super) fn parse_cache_ttl(value: &str) -> Result<std::time::Duration, ConfigError> {
    let millis = match value {
        "off" | "0" => Some(0),
        "1s" => Some(1000),
        _ => value
            .strip_suffix("ms")
            .filter(|number| number.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|number| number.parse::<u64>().ok())
            .filter(|&millis| millis <= 1000),
    };
    millis
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| ConfigError::Invalid {
            var: "SESSION_CACHE_TTL",
            reason: format!(
                "{value:?}: use off, a number of milliseconds up to 1000 (250ms), or 1s"
            ),
        })
}

pub(super) const MINUTE: u64 = 60;
pub(super) const DAY: u64 = 86_400;
pub(super) const YEAR: u64 = 365 * DAY;

/// A duration as people write it: a whole number and a unit, `90s`, `30m`,
/// `12h`, `7d`, `2w`; within `seconds`.
pub(super) fn parse_duration(
    var: &'static str,
    value: &str,
    seconds: std::ops::RangeInclusive<u64>,
) -> Result<std::time::Duration, ConfigError> {
    let invalid = || ConfigError::Invalid {
        var,
        reason: format!(
            "{value:?} is not a duration; write a whole number and a unit: 90s, 30m, 12h, 7d or 2w"
        ),
    };
    let unit_at = value
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = value.split_at(unit_at);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(invalid()),
    };
    let total = number.saturating_mul(unit_seconds);
    if !seconds.contains(&total) {
        return Err(ConfigError::Invalid {
            var,
            reason: format!(
                "{value} is out of range; use from {} to {}",
                human(*seconds.start()),
                human(*seconds.end())
            ),
        });
    }
    Ok(std::time::Duration::from_secs(total))
}

/// Seconds in the largest unit that divides them: `1m`, `30d`.
pub(super) fn human(seconds: u64) -> String {
    [(604_800, "w"), (DAY, "d"), (3600, "h"), (MINUTE, "m")]
        .iter()
        .find(|(unit, _)| seconds.is_multiple_of(*unit))
        .map_or_else(
            || format!("{seconds}s"),
            |(unit, name)| format!("{}{name}", seconds / unit),
        )
}

pub(super) fn parse_scopes(value: &str) -> Result<Vec<Scope>, ConfigError> {
    let scopes: Vec<Scope> = value
        .split_whitespace()
        .map(|scope| Scope::new(scope.to_owned()))
        .collect();
    if !scopes.iter().any(|scope| scope.as_str() == "openid") {
        return Err(ConfigError::Invalid {
            var: "AUTHGEAR_SCOPES",
            reason: format!("{value:?} lacks \"openid\"; use a space-separated list such as \"openid offline_access\""),
        });
    }
    Ok(scopes)
}
