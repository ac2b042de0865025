//! Configuration, read once at start-up from the environment (and `.env`).
//!
//! Every problem is reported with the variable's name and how to fix it, and
//! stops start-up: a half-configured sign-in is worse than none.

use std::path::PathBuf;

use app::auth::{AuthSettings, WebhookSecret};
use axum_extra::extract::cookie::Key;
use openidconnect::{ClientId, ClientSecret};
use url::Url;

mod values;

use values::*;

/// Fewer bytes than this cannot be a safe key.
const MIN_SECRET_KEY_LEN: usize = 32;
/// A shorter webhook secret could be guessed from one signed request.
const MIN_WEBHOOK_SECRET_LEN: usize = 32;

pub struct Config {
    pub auth: AuthSettings,
    pub session_store: SessionStoreConfig,
    pub log_format: LogFormat,
    /// Where `/metrics` is served (`METRICS_ADDR`), on a listener of its
    /// own; nowhere when unset.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people: one readable line per event.
    Text,
    /// For log collectors: one JSON object per line.
    Json,
}

/// Which session store to open.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionStoreConfig {
    /// The embedded SQLite file: one server.
    Sqlite(PathBuf),
    /// A Redis server shared by every instance. The URL may hold a password:
    /// it is never printed.
    Redis(Url),
}

impl SessionStoreConfig {
    /// True for a plain `redis://` connection to another machine: sessions
    /// (and the password, if any) would cross the network unencrypted.
    pub fn is_plain_redis_to_another_host(&self) -> bool {
        match self {
            Self::Sqlite(_) => false,
            Self::Redis(url) => {
                // `redis://` is not a scheme the URL standard knows: its host
                // is kept as text, IP addresses included.
                let host = url.host_str().unwrap_or_default();
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let loopback = host.eq_ignore_ascii_case("localhost")
                    || host
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback());
                matches!(url.scheme(), "redis" | "redis-cluster") && !loopback
            }
        }
    }

    /// The store for messages: the path, or the Redis host without credentials.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Redis(url) => format!(
                "Redis at {}:{}",
                url.host_str().unwrap_or_default(),
                url.port().unwrap_or(6379)
            ),
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is not set: {hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var} is not valid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, so tests need not touch the environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);
        let issuer = parse_issuer(&vars.require(
            "AUTHGEAR_DOMAIN",
            "set it to your Authgear project's domain, e.g. myapp.authgear.cloud \
             (or leave every AUTHGEAR_ variable empty and start the app with ./scripts/run \
             to use the local development provider)",
        )?)?;
        let client_id = vars.require(
            "AUTHGEAR_CLIENT_ID",
            "copy the Client ID of your application from the Authgear portal",
        )?;
        let client_secret = vars.require(
            "AUTHGEAR_CLIENT_SECRET",
            "copy the Client Secret of your application from the Authgear portal",
        )?;
        let secret_key = vars.require(
            "APP_SECRET_KEY",
            "generate one with `openssl rand -hex 32` and put it in .env",
        )?;
        if secret_key.len() < MIN_SECRET_KEY_LEN {
            return Err(ConfigError::Invalid {
                var: "APP_SECRET_KEY",
                reason: format!(
                    "it has {} characters; use at least {MIN_SECRET_KEY_LEN} \
                     (generate one with `openssl rand -hex 32`)",
                    secret_key.len()
                ),
            });
        }
        let app_url = parse_app_url(
            vars.get("APP_URL")
                .as_deref()
                .unwrap_or("http://localhost:3000"),
        )?;
        let scopes = parse_scopes(
            vars.get("AUTHGEAR_SCOPES")
                .as_deref()
                .unwrap_or("openid offline_access"),
        )?;
        let session_store = match vars.get("REDIS_URL") {
            Some(url) => SessionStoreConfig::Redis(parse_redis_url(&url)?),
            None => SessionStoreConfig::Sqlite(
                vars.get("SESSION_DB_PATH")
                    .unwrap_or_else(|| "sessions.db".into())
                    .into(),
            ),
        };

        let mut auth = AuthSettings::new(
            issuer,
            ClientId::new(client_id),
            ClientSecret::new(client_secret),
            app_url,
            Key::derive_from(secret_key.as_bytes()),
        );
        auth.scopes = scopes;
        if let Some(secret) = vars.get("AUTHGEAR_WEBHOOK_SECRET") {
            if secret.chars().count() < MIN_WEBHOOK_SECRET_LEN {
                return Err(ConfigError::Invalid {
                    var: "AUTHGEAR_WEBHOOK_SECRET",
                    reason: format!(
                        "it has {} characters; use at least {MIN_WEBHOOK_SECRET_LEN}: \
                         copy the secret the Authgear portal shows for the webhook",
                        secret.chars().count()
                    ),
                });
            }
            auth.webhook_secret = Some(WebhookSecret::new(secret));
        }
        auth.backchannel_logout = vars
            .switch(
                "BACKCHANNEL_LOGOUT",
                "use on (the default: accepted when the provider offers it) or off",
            )?
            .unwrap_or(true);
        // A year at most: Authgear's refresh tokens live no longer.
        if let Some(timeout) = vars.duration("SESSION_IDLE_TIMEOUT", MINUTE..=YEAR)? {
            auth.idle_timeout = timeout;
        }
        if let Some(lifetime) = vars.duration("SESSION_MAX_LIFETIME", MINUTE..=YEAR)? {
            auth.max_lifetime = lifetime;
        }
        if let Some(interval) = vars.duration_or_off("LIVENESS_CHECK_INTERVAL", 1..=30 * DAY)? {
            auth.liveness_interval = interval;
        }
        // Shorter than a sign-in takes, every step-up would come back too
        // old; longer than a session, it would mean nothing.
        if let Some(max_age) = vars.duration("STEP_UP_MAX_AGE", MINUTE..=30 * DAY)? {
            auth.step_up_max_age = max_age;
        }
        if let Some(value) = vars.get("SESSION_CACHE_TTL") {
            auth.session_cache_ttl = parse_cache_ttl(&value)?;
        }
        if let Some(role) = vars.get("ADMIN_ROLE") {
            if role.len() > 128 || role.chars().any(char::is_whitespace) {
                return Err(ConfigError::Invalid {
                    var: "ADMIN_ROLE",
                    reason: "use one role key as the Authgear portal shows it, e.g. admin".into(),
                });
            }
            auth.admin_role = role;
        }
        let account_settings = vars.switch(
            "AUTHGEAR_ACCOUNT_SETTINGS",
            "use on (link to <issuer>/settings) or off; by default the link is \
             shown for *.authgear.cloud and the local provider",
        )?;
        let auth = auth.with_account_settings(account_settings);
        let log_format = match vars.get("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    var: "LOG_FORMAT",
                    reason: "use text (the default) or json".into(),
                })
            }
        };
        let metrics_addr = match vars.get("METRICS_ADDR") {
            None => None,
            Some(value) => Some(value.parse().map_err(|_| ConfigError::Invalid {
                var: "METRICS_ADDR",
                reason: format!(
                    "{value:?} is not an address and port; for example 127.0.0.1:9100 \
                     (a private interface: the metrics are for your monitoring only)"
                ),
            })?),
        };
        Ok(Self {
            auth,
            session_store,
            log_format,
            metrics_addr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut env: HashMap<&str, &str> = HashMap::from([
            ("AUTHGEAR_DOMAIN", "myapp.authgear.cloud"),
            ("AUTHGEAR_CLIENT_ID", "client"),
            ("AUTHGEAR_CLIENT_SECRET", "secret"),
            ("APP_SECRET_KEY", KEY),
        ]);
        env.extend(vars.iter().copied());
        Config::from_lookup(|name| env.get(name).map(|value| value.to_string()))
    }

    fn error(vars: &[(&str, &str)]) -> String {
        match config(vars) {
            Ok(_) => panic!("expected {vars:?} to be rejected"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn defaults() {
        let config = config(&[]).expect("valid");
        assert_eq!(config.auth.issuer.as_str(), "https://myapp.authgear.cloud");
        assert_eq!(config.auth.app_url.as_str(), "http://localhost:3000/");
        assert_eq!(config.auth.redirect_url(), "http://localhost:3000/callback");
        assert_eq!(
            config.auth.post_logout_redirect_url(),
            "http://localhost:3000/"
        );
        let scopes: Vec<&str> = config
            .auth
            .scopes
            .iter()
            .map(|scope| scope.as_str())
            .collect();
        assert_eq!(scopes, ["openid", "offline_access"]);
        assert_eq!(
            config.session_store,
            SessionStoreConfig::Sqlite(PathBuf::from("sessions.db"))
        );
        assert!(!config.auth.secure_cookies());
        assert!(!config.auth.is_local_provider());
    }

    #[test]
    fn domain_forms() {
        let issuer = |domain| {
            config(&[("AUTHGEAR_DOMAIN", domain)])
                .expect("valid")
                .auth
                .issuer
                .to_string()
        };
        assert_eq!(
            issuer("https://myapp.authgear.cloud/"),
            "https://myapp.authgear.cloud"
        );
        assert_eq!(issuer("http://127.0.0.1:4000"), "http://127.0.0.1:4000");
        assert_eq!(issuer("http://localhost:4000"), "http://localhost:4000");
        assert_eq!(
            issuer("auth.example.com:8443"),
            "https://auth.example.com:8443"
        );
        let local = config(&[("AUTHGEAR_DOMAIN", "http://127.0.0.1:4000")]).expect("valid");
        assert!(local.auth.is_local_provider());
    }

    #[test]
    fn https_app_url_makes_cookies_secure() {
        let config = config(&[("APP_URL", "https://app.example.com")]).expect("valid");
        assert!(config.auth.secure_cookies());
        assert_eq!(
            config.auth.redirect_url(),
            "https://app.example.com/callback"
        );
    }

    #[test]
    fn every_missing_variable_is_named_with_a_fix() {
        for (var, fix) in [
            ("AUTHGEAR_DOMAIN", "myapp.authgear.cloud"),
            ("AUTHGEAR_CLIENT_ID", "Client ID"),
            ("AUTHGEAR_CLIENT_SECRET", "Client Secret"),
            ("APP_SECRET_KEY", "openssl rand -hex 32"),
        ] {
            for unset in ["", "   "] {
                let message = error(&[(var, unset)]);
                assert!(
                    message.starts_with(&format!("{var} is not set: ")),
                    "{message}"
                );
                assert!(message.contains(fix), "{message}");
            }
        }
    }

    #[test]
    fn malformed_values_are_explained() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "AUTHGEAR_DOMAIN",
                "http://myapp.authgear.cloud",
                "uses plain http",
            ),
            (
                "AUTHGEAR_DOMAIN",
                "ftp://myapp.authgear.cloud",
                "has scheme \"ftp\"",
            ),
            (
                "AUTHGEAR_DOMAIN",
                "https://myapp.authgear.cloud/oauth2",
                "has a path or query",
            ),
            (
                "AUTHGEAR_DOMAIN",
                "https://myapp.authgear.cloud?x=1",
                "has a path or query",
            ),
            (
                "AUTHGEAR_DOMAIN",
                "https://user:pw@myapp.authgear.cloud",
                "contains credentials",
            ),
            ("AUTHGEAR_DOMAIN", "my app", "is not a host name or URL"),
            ("AUTHGEAR_DOMAIN", "https://", "is not a host name or URL"),
            ("APP_URL", "http://app.example.com", "uses plain http"),
            (
                "APP_URL",
                "http://localhost:3000/app",
                "has a path or query",
            ),
            (
                "APP_SECRET_KEY",
                "too-short",
                "it has 9 characters; use at least 32",
            ),
            (
                "AUTHGEAR_SCOPES",
                "offline_access email",
                "lacks \"openid\"",
            ),
        ];
        for (var, value, expected) in cases {
            let message = error(&[(var, value)]);
            assert!(
                message.starts_with(&format!("{var} is not valid: ")),
                "{var}={value}: {message}"
            );
            assert!(message.contains(expected), "{var}={value}: {message}");
        }
    }

    #[test]
    fn secrets_are_not_echoed_in_errors() {
        let message = error(&[("APP_SECRET_KEY", "hunter2-secret")]);
        assert!(!message.contains("hunter2"), "{message}");
        // A URL with a password, even one wrong in other ways too.
        for url in [
            "http://user:hunter2@app.example.com/x",
            "ftp://u:hunter2@h",
            // Mistyped so that it does not even parse as a URL.
            "https://user:hunter2@my app.example.com",
            "https://user:hunter2@",
        ] {
            for var in ["APP_URL", "AUTHGEAR_DOMAIN"] {
                let message = error(&[(var, url)]);
                assert!(
                    message.starts_with(&format!("{var} is not valid: ")),
                    "{message}"
                );
                assert!(!message.contains("hunter2"), "{message}");
            }
        }
    }

    #[test]
    fn custom_scopes_and_session_path() {
        let config = config(&[
            (
                "AUTHGEAR_SCOPES",
                "openid offline_access https://authgear.com/scopes/full-userinfo",
            ),
            ("SESSION_DB_PATH", "/var/lib/app/sessions.db"),
        ])
        .expect("valid");
        assert_eq!(config.auth.scopes.len(), 3);
        assert_eq!(
            config.session_store,
            SessionStoreConfig::Sqlite(PathBuf::from("/var/lib/app/sessions.db"))
        );
    }

    #[test]
    fn operating_settings() {
        let config = config(&[
            (
                "AUTHGEAR_WEBHOOK_SECRET",
                "whsec-0123456789abcdef0123456789abcdef",
            ),
            ("BACKCHANNEL_LOGOUT", "off"),
            ("LIVENESS_CHECK_INTERVAL", "90s"),
            ("LOG_FORMAT", "json"),
            ("SESSION_IDLE_TIMEOUT", "30m"),
            ("SESSION_MAX_LIFETIME", "2w"),
        ])
        .expect("valid");
        assert_eq!(
            config.auth.idle_timeout,
            std::time::Duration::from_secs(1800)
        );
        assert_eq!(
            config.auth.max_lifetime,
            std::time::Duration::from_secs(1_209_600)
        );
        assert!(config.auth.webhook_secret.is_some());
        assert!(!config.auth.backchannel_logout);
        assert_eq!(
            config.auth.liveness_interval,
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(config.log_format, LogFormat::Json);

        let defaults = super::tests::config(&[]).expect("valid");
        assert!(defaults.auth.webhook_secret.is_none());
        assert!(defaults.auth.backchannel_logout);
        assert_eq!(
            defaults.auth.liveness_interval,
            Some(std::time::Duration::from_secs(300))
        );
        assert_eq!(defaults.log_format, LogFormat::Text);
        assert_eq!(defaults.metrics_addr, None, "no metrics unless asked for");
        let metrics = super::tests::config(&[("METRICS_ADDR", "127.0.0.1:9100")]).expect("valid");
        assert_eq!(
            metrics.metrics_addr,
            Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9100)))
        );
        let wrong = super::tests::error(&[("METRICS_ADDR", "localhost")]);
        assert!(
            wrong
                .starts_with("METRICS_ADDR is not valid: \"localhost\" is not an address and port"),
            "{wrong}"
        );
        let off = super::tests::config(&[("LIVENESS_CHECK_INTERVAL", "off")]).expect("valid");
        assert_eq!(off.auth.liveness_interval, None);
    }

    #[test]
    fn feature_settings() {
        let defaults = config(&[]).expect("valid");
        assert_eq!(
            defaults.auth.step_up_max_age,
            std::time::Duration::from_secs(300)
        );
        assert_eq!(defaults.auth.admin_role, "admin");
        let config =
            config(&[("STEP_UP_MAX_AGE", "15m"), ("ADMIN_ROLE", "ops:admin")]).expect("valid");
        assert_eq!(
            config.auth.step_up_max_age,
            std::time::Duration::from_secs(900)
        );
        assert_eq!(config.auth.admin_role, "ops:admin");
    }

    #[test]
    fn the_account_settings_link_follows_the_provider() {
        let link = |vars: &[(&str, &str)]| {
            config(vars)
                .expect("valid")
                .auth
                .account_settings
                .map(|url| url.to_string())
        };
        let domain = |domain| [("AUTHGEAR_DOMAIN", domain)];
        assert_eq!(
            link(&domain("myapp.authgear.cloud")).as_deref(),
            Some("https://myapp.authgear.cloud/settings")
        );
        assert_eq!(
            link(&domain("http://127.0.0.1:4000")).as_deref(),
            Some("http://127.0.0.1:4000/settings")
        );
        // A custom domain may be Authgear or not: the operator says.
        assert_eq!(link(&domain("auth.example.com")), None);
        assert_eq!(
            link(&[
                ("AUTHGEAR_DOMAIN", "auth.example.com"),
                ("AUTHGEAR_ACCOUNT_SETTINGS", "on")
            ])
            .as_deref(),
            Some("https://auth.example.com/settings")
        );
        assert_eq!(
            link(&[
                ("AUTHGEAR_DOMAIN", "myapp.authgear.cloud"),
                ("AUTHGEAR_ACCOUNT_SETTINGS", "off")
            ]),
            None
        );
    }

    #[test]
    fn the_session_cache_is_a_second_at_most() {
        let ttl = |value| {
            config(&[("SESSION_CACHE_TTL", value)])
                .expect("valid")
                .auth
                .session_cache_ttl
        };
        assert_eq!(
            config(&[]).expect("valid").auth.session_cache_ttl,
            std::time::Duration::from_secs(1)
        );
        assert_eq!(ttl("off"), std::time::Duration::ZERO);
        assert_eq!(ttl("250ms"), std::time::Duration::from_millis(250));
        assert_eq!(ttl("1s"), std::time::Duration::from_secs(1));
    }

    #[test]
    fn durations_are_read_as_people_write_them() {
        for (value, seconds) in [
            ("90s", 90),
            ("30m", 1800),
            ("12h", 43_200),
            ("7d", 604_800),
            ("2w", 1_209_600),
        ] {
            assert_eq!(
                parse_duration("X", value, 1..=u64::MAX),
                Ok(std::time::Duration::from_secs(seconds)),
                "{value}"
            );
        }
        for value in [
            "",
            "m",
            "30",
            "30 m",
            "-1m",
            "1.5h",
            "30y",
            "99999999999999999999d",
        ] {
            let message = parse_duration("X", value, 1..=u64::MAX)
                .expect_err(value)
                .to_string();
            assert!(message.contains("is not a duration"), "{value}: {message}");
        }
        let message = parse_duration("X", "0m", 1..=u64::MAX).expect_err("zero");
        assert!(message.to_string().contains("out of range"), "{message}");
    }

    #[test]
    fn every_operating_setting_explains_its_values() {
        for (var, value, hint) in [
            ("BACKCHANNEL_LOGOUT", "yes", "use on"),
            ("LOG_FORMAT", "xml", "text (the default) or json"),
            ("LIVENESS_CHECK_INTERVAL", "soon", "is not a duration"),
            ("SESSION_IDLE_TIMEOUT", "1 day", "is not a duration"),
            ("SESSION_MAX_LIFETIME", "forever", "is not a duration"),
            ("STEP_UP_MAX_AGE", "5 minutes", "is not a duration"),
            ("STEP_UP_MAX_AGE", "30s", "use from 1m to 30d"),
            ("STEP_UP_MAX_AGE", "1000000w", "use from 1m to 30d"),
            // Far beyond any date a clock can hold: refused here, not a
            // panic at every sign-in.
            (
                "SESSION_IDLE_TIMEOUT",
                "18446744073709551615s",
                "use from 1m to 365d",
            ),
            (
                "SESSION_MAX_LIFETIME",
                "9999999999999999w",
                "use from 1m to 365d",
            ),
            ("SESSION_MAX_LIFETIME", "0d", "use from 1m to 365d"),
            ("LIVENESS_CHECK_INTERVAL", "31d", "use from 1s to 30d"),
            ("AUTHGEAR_WEBHOOK_SECRET", "whsec", "at least 32"),
            ("ADMIN_ROLE", "site admin", "one role key"),
            ("AUTHGEAR_ACCOUNT_SETTINGS", "yes", "use on"),
            ("SESSION_CACHE_TTL", "2s", "up to 1000"),
            ("SESSION_CACHE_TTL", "1001ms", "up to 1000"),
            ("SESSION_CACHE_TTL", "-5ms", "up to 1000"),
            ("SESSION_CACHE_TTL", "ms", "up to 1000"),
        ] {
            let message = error(&[(var, value)]);
            assert!(
                message.starts_with(&format!("{var} is not valid: ")),
                "{message}"
            );
            assert!(message.contains(hint), "{message}");
        }
    }

    #[test]
    fn plain_redis_is_only_quiet_on_this_machine() {
        let plain = |url: &str| {
            config(&[("REDIS_URL", url)])
                .expect("valid")
                .session_store
                .is_plain_redis_to_another_host()
        };
        assert!(plain("redis://cache.internal:6379/0"));
        assert!(plain("redis-cluster://cache.internal:30001"));
        assert!(!plain("rediss-cluster://cache.internal:30001"));
        assert!(plain("redis://:secret@10.0.0.5"));
        assert!(!plain("rediss://cache.internal:6380/0"));
        assert!(!plain("redis://127.0.0.1:6379"));
        assert!(!plain("redis://localhost"));
        assert!(!plain("redis://[::1]:6379"));
        assert!(!config(&[])
            .expect("valid")
            .session_store
            .is_plain_redis_to_another_host());
    }

    #[test]
    fn redis_url_selects_redis_and_is_never_echoed() {
        let config =
            config(&[("REDIS_URL", "redis://:hunter2@cache.internal:6380/1")]).expect("valid");
        assert!(matches!(config.session_store, SessionStoreConfig::Redis(_)));
        let described = config.session_store.describe();
        assert_eq!(described, "Redis at cache.internal:6380");
        for (value, reason) in [
            ("cache.internal:6379", "scheme is not redis"),
            ("http://:hunter2@cache.internal", "scheme is not redis"),
            ("redis://:hunter2@", "it is not a URL"),
            ("redis:///0", "it has no host"),
            ("not a url :hunter2", "it is not a URL"),
        ] {
            let message = error(&[("REDIS_URL", value)]);
            assert!(message.starts_with("REDIS_URL is not valid: "), "{message}");
            assert!(message.contains(reason), "{value}: {message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }
}
