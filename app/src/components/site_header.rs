use leptos::prelude::*;
use leptos_router::hooks::use_location;

use super::{Brand, LogoutForm, ViewerState};
use crate::model::{UserView, Viewer};
use crate::paths;

/// The app's name, and the user's menu or the way to sign in.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let state = ViewerState::get();
    view! {
        <header class="site-header">
            <div class="bar">
                <Brand/>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match state.viewer.await {
                            Ok(Viewer { user: Some(user), account_settings, .. }) => {
                                view! { <UserMenu user account_settings/> }.into_any()
                            }
                            _ => view! { <GuestActions/> }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </header>
    }
}

/// Sign-in and sign-up, except on the home page, whose body offers both.
#[component]
fn GuestActions() -> impl IntoView {
    let location = use_location();
    view! {
        <Show when=move || location.pathname.get() != paths::HOME>
            <nav class="header-actions" aria-label="Account">
                <a class="button small" href=paths::LOGIN rel="external">"Login"</a>
                <a class="button small secondary" href=paths::SIGNUP rel="external">"Sign up"</a>
            </nav>
        </Show>
    }
}

/// A disclosure menu: a plain `<details>`, so it opens with a keyboard,
/// a screen reader and without JavaScript alike.
#[component]
fn UserMenu(user: UserView, account_settings: bool) -> impl IntoView {
    let state = ViewerState::get();
    let initial = user
        .display_name
        .chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default();
    let is_admin = user.is_admin;
    let label = user.display_name.clone();
    view! {
        <nav class="user-menu" aria-label="Account">
            <details class="menu">
                // Named for screen readers also where a narrow screen shows
                // only the avatar.
                <summary aria-label=label>
                    <span class="avatar" aria-hidden="true">{initial}</span>
                    <span class="menu-name">{user.display_name}</span>
                </summary>
                <ul>
                    {account_settings.then(|| view! {
                        // In a tab of its own: coming back from another site
                        // would not carry the `Strict` session cookie, and
                        // this tab catches up when it gets the focus back.
                        <li>
                            <a
                                href=paths::ACCOUNT_SETTINGS
                                target="_blank"
                                rel="external noopener"
                                on:click=move |_| state.left_for_settings.set(true)
                            >
                                "Account settings"
                                <span class="visually-hidden">" (opens in a new tab)"</span>
                            </a>
                        </li>
                    })}
                    <li><a href=paths::SECURITY rel="external">"Security"</a></li>
                    {is_admin.then(|| view! {
                        <li><a href=paths::ADMIN rel="external">"Admin"</a></li>
                    })}
                    <li><LogoutForm action=state.logout/></li>
                </ul>
            </details>
        </nav>
    }
}
