use std::process::ExitCode;

use app::auth::{Auth, Store};
use axum::serve::ListenerExt;
use leptos::config::get_configuration;
use server::config::{Config, LogFormat, SessionStoreConfig};
use server::{router, AppState};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How often expired sessions are removed from the store.
const SESSION_CLEANUP_PERIOD: std::time::Duration = std::time::Duration::from_secs(60 * 10);

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    // Variables already in the environment win over `.env`.
    if let Err(error) = dotenvy::dotenv() {
        if !error.not_found() {
            return Err(format!(".env could not be read: {error}"));
        }
    }
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) => {
            EnvFilter::try_new(&value).map_err(|error| format!("RUST_LOG is not valid: {error}"))?
        }
        Err(_) => EnvFilter::new("info"),
    };
    let config = Config::from_env().map_err(|error| error.to_string())?;
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }
    let mut leptos_options = get_configuration(None)
        .map_err(|error| format!("the Leptos settings could not be read: {error}"))?
        .leptos_options;
    if !app::assets::init(&mut leptos_options) {
        let plain = std::path::Path::new(&*leptos_options.site_root)
            .join(&*leptos_options.site_pkg_dir)
            .join(format!("{}.css", leptos_options.output_name));
        if plain.exists() {
            tracing::info!("no hash.txt beside the server binary: assets are served under their plain names, revalidated on every use");
        } else {
            tracing::warn!(missing = %plain.display(), "no hash.txt beside the server binary, and no assets under their plain names: pages will have no script or styles; deploy the build's hash.txt next to the binary");
        }
    }

    if config.auth.is_local_provider() {
        tracing::warn!(
            issuer = config.auth.issuer.as_str(),
            "signing in with the LOCAL DEVELOPMENT PROVIDER; set AUTHGEAR_DOMAIN in .env to use Authgear"
        );
    }
    if config.session_store.is_plain_redis_to_another_host() {
        tracing::warn!(
            store = %config.session_store.describe(),
            "REDIS_URL is plain redis:// to another host: sessions cross the network unencrypted; use rediss://"
        );
    }
    let store = match &config.session_store {
        SessionStoreConfig::Sqlite(path) => Store::sqlite(path).await,
        SessionStoreConfig::Redis(url) => Store::redis(url.as_str()).await,
    }
    .map_err(|error| {
        format!(
            "the session store ({}) could not be opened: {error}",
            config.session_store.describe()
        )
    })?;
    tokio::spawn(store.clone().remove_expired_every(SESSION_CLEANUP_PERIOD));

    let auth = Auth::start(config.auth, store).map_err(|error| error.to_string())?;
    if let Some(addr) = config.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|error| format!("cannot listen on METRICS_ADDR {addr}: {error}"))?;
        tracing::info!("metrics on http://{addr}/metrics");
        tokio::spawn(server::serve_metrics(listener, auth.clone()));
    }
    tokio::spawn(auth.clone().sweep_every(SESSION_CLEANUP_PERIOD));
    let addr = leptos_options.site_addr;
    let app = router(AppState {
        leptos_options,
        auth,
    });

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| format!("cannot listen on {addr}: {error}"))?;
    tracing::info!("listening on http://{addr}");
    // Leptos streams a page in several writes; without TCP_NODELAY each page
    // waits on Nagle's algorithm and delayed ACKs (~40 ms).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|error| format!("the server stopped: {error}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
