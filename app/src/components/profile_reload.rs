//! The two ways the user asks for their profile again: the "Reload profile"
//! button, and coming back from the provider's account settings. Both fetch
//! it on the server, then the page on show loads its data again.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::{LogoutForm, PageReloads, SharedViewer};
use crate::api::{reload_profile, ReloadProfile};
use crate::model::ApiError;
use crate::paths;

/// "Reload profile" and "Logout" under the profile. With JavaScript a
/// failed reload is explained here; without it the reload form posts and
/// the server sends the browser back to this page.
#[component]
pub fn ProfileActions() -> impl IntoView {
    let reloader = Reloader::get();
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let reload = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        pending.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            if let Err(failure) = reloader.reload().await {
                error.set(Some(failure.to_string()));
            }
            pending.set(false);
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
/// fetched the profile before they changed anything.
#[component]
pub fn AccountSettingsLink() -> impl IntoView {
    let left = StoredValue::new(false);
    #[cfg(feature = "hydrate")]
    {
        let reloader = Reloader::get();
        let listener = window_event_listener(leptos::ev::focus, move |_| {
            if left.get_value() {
                left.set_value(false);
                leptos::task::spawn_local(async move {
                    // A failure leaves the page as it is; the next page
                    // shows what the server holds.
                    let _ = reloader.reload().await;
                });
            }
        });
        on_cleanup(move || listener.remove());
    }
    view! {
        <a
            href=paths::ACCOUNT_SETTINGS
            target="_blank"
            rel="noopener external"
            on:click=move |_| left.set_value(true)
        >
            "Account settings"
            <span class="visually-hidden">" (opens in a new tab)"</span>
        </a>
    }
}

/// What a reload touches, taken from the component before its task starts.
#[derive(Clone, Copy)]
struct Reloader {
    viewer: SharedViewer,
    reloads: Option<PageReloads>,
}

impl Reloader {
    fn get() -> Self {
        Self {
            viewer: SharedViewer::get(),
            reloads: use_context(),
        }
    }

    /// Fetches the profile again; the page on show then loads its data
    /// again to show it. A session found ended is shown as such.
    async fn reload(self) -> Result<(), ApiError> {
        match reload_profile().await {
            Ok(()) => {
                if let Some(reloads) = self.reloads {
                    reloads.bump();
                }
                Ok(())
            }
            Err(error @ (ApiError::SignedOut | ApiError::SessionEnded)) => {
                self.viewer.learn(Err(&error));
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}
