//! The two ways the user asks for their profile again: the "Reload profile"
//! button, and coming back from the provider's account settings. Both fetch
//! it on the server, then load the page again to show it.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::LogoutForm;
use crate::api::{reload_profile, ReloadProfile};
use crate::model::ApiError;
use crate::paths;

/// "Reload profile" and "Logout" under the profile. An island: with
/// JavaScript a failed reload is explained here; without it the reload form
/// posts and the server sends the browser back to this page.
#[island]
pub fn ProfileActions() -> impl IntoView {
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let reload = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        pending.set(true);
        leptos::task::spawn_local(async move {
            match reload_profile().await {
                // Signed out meanwhile: the page shows it once loaded again.
                Ok(()) | Err(ApiError::SignedOut) => load_page_again(),
                Err(failure) => {
                    error.set(Some(failure.to_string()));
                    pending.set(false);
                }
            }
        });
    };
    view! {
        <div class="actions">
            <form method="post" action=ReloadProfile::PATH on:submit=reload>
                <button type="submit" class="button secondary" disabled=move || pending.get()>
                    "Reload profile"
                </button>
            </form>
            <LogoutForm/>
        </div>
        {move || error.get().map(|error| view! { <p class="notice error" role="alert">{error}</p> })}
    }
}

/// The user menu's link to the provider's account settings. In a tab of its
/// own: coming back from another site would not carry the `Strict` session
/// cookie. When this window gets the focus back, the profile is reloaded: a
/// reload, not a mark, because whatever ran while the user was away may have
/// fetched the profile before they changed anything. An island.
#[island]
pub fn AccountSettingsLink() -> impl IntoView {
    // Nothing reacts to it, but a `StoredValue` would add 0.4 KB (brotli) to
    // the wasm that signals, used by every island, already cover.
    let left = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let listener = window_event_listener(leptos::ev::focus, move |_| {
            if left.get_untracked() {
                left.set(false);
                leptos::task::spawn_local(async {
                    // Whatever the answer, the page then shows what the server holds.
                    let _ = reload_profile().await;
                    load_page_again();
                });
            }
        });
        on_cleanup(move || listener.remove());
    }
    view! {
        <a
            href=paths::ACCOUNT_SETTINGS
            target="_blank"
            rel="noopener"
            on:click=move |_| left.set(true)
        >
            "Account settings"
            <span class="visually-hidden">" (opens in a new tab)"</span>
        </a>
    }
}

/// The page is rendered on the server: loading it again shows what changed.
fn load_page_again() {
    #[cfg(feature = "hydrate")]
    if let Err(error) = window().location().reload() {
        leptos::logging::error!("could not load the page again: {error:?}");
    }
}
