use std::time::Duration;

use leptos::prelude::*;

use super::SharedViewer;
use crate::model::{ApiCall, ApiError};
use crate::paths;

/// Calls an API on the user's behalf through the server (`paths::USERINFO_API`)
/// when asked, and shows its answer, with a live countdown to the expiry of
/// the access token the server holds (`expires_in` seconds as the page was
/// made). Nothing is called on a page view: viewing a page costs the provider
/// nothing. Without JavaScript the button opens the JSON. A call that finds
/// the session ended says so to the whole app.
#[component]
pub fn ApiPanel(expires_in: Option<u64>) -> impl IntoView {
    let viewer = SharedViewer::get();
    let answer = RwSignal::new(None::<Result<ApiCall, ApiError>>);
    let pending = RwSignal::new(false);
    let expires_in = RwSignal::new(expires_in);

    let call = move || {
        pending.set(true);
        leptos::task::spawn_local(async move {
            let result = call_api().await;
            if let Err(error) = &result {
                viewer.learn(Err(error));
            }
            expires_in.set(
                result
                    .as_ref()
                    .ok()
                    .and_then(|call| call.access_token_expires_in),
            );
            answer.set(Some(result));
            pending.set(false);
        });
    };
    // In the browser only: the clock.
    Effect::new(move |_| {
        let tick = move || expires_in.update(|left| *left = left.map(|s| s.saturating_sub(1)));
        if let Ok(handle) = set_interval_with_handle(tick, Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });

    let countdown = move || match expires_in.get() {
        None => "—".to_owned(),
        Some(left) => format!("{}:{:02}", left / 60, left % 60),
    };
    let result = move || match answer.get() {
        None => "Not called yet.".to_owned(),
        Some(Ok(call)) => call.response.get().to_owned(),
        Some(Err(error)) => error.to_string(),
    };
    let failed = move || matches!(answer.get(), Some(Err(_)));
    // Announced to screen readers instead of the whole answer.
    let status = move || match (pending.get(), answer.get()) {
        (true, _) => "Calling the API…",
        (false, None) => "",
        (false, Some(Ok(_))) => "Answer received.",
        (false, Some(Err(_))) => "The call failed.",
    };
    view! {
        <section class="card api" aria-labelledby="api-heading" aria-busy=move || pending.get().to_string()>
            <h2 id="api-heading">"An API, called for you"</h2>
            <p class="muted">
                "The server calls the provider's userinfo API with your access token, "
                "renewing it first when it is due. The token never reaches this page."
            </p>
            <p class="countdown">
                "Access token valid for " <span role="timer" data-testid="countdown">{countdown}</span>
                <span class="muted">" (renewed on the next call when due)"</span>
            </p>
            <form
                method="get"
                action=paths::USERINFO_API
                on:submit=move |event| {
                    event.prevent_default();
                    call();
                }
            >
                <button type="submit" class="button secondary" disabled=move || pending.get()>
                    {move || if pending.get() { "Calling…" } else { "Refresh now" }}
                </button>
            </form>
            <p class="visually-hidden" role="status">{status}</p>
            <pre class="api-result" class:error=failed tabindex="0" data-testid="api-result">{result}</pre>
        </section>
    }
}

/// `GET paths::USERINFO_API` with `gloo-net`: the answer, or the server's
/// `ApiError`.
#[cfg(feature = "hydrate")]
async fn call_api() -> Result<ApiCall, ApiError> {
    use gloo_net::http::Request;
    let transport = |error: gloo_net::Error| ApiError::Transport(error.to_string());
    let response = Request::get(paths::USERINFO_API)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(transport)?;
    if response.ok() {
        response.json::<ApiCall>().await.map_err(transport)
    } else {
        Err(response
            .json::<ApiError>()
            .await
            .unwrap_or_else(|_| ApiError::Transport(format!("HTTP {}", response.status()))))
    }
}

/// The server renders the panel before any call: calls start in the browser.
#[cfg(not(feature = "hydrate"))]
async fn call_api() -> Result<ApiCall, ApiError> {
    Err(ApiError::Transport(
        "the API is called from the browser".into(),
    ))
}
