use leptos::prelude::*;
use leptos_router::hooks::use_location;

use super::{AccountSettingsLink, Brand, LogoutForm, ViewerState};
use crate::model::Viewer;
use crate::paths;

/// The app's name, and the user's menu or the way to sign in.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let account = match ViewerState::get().viewer() {
        Ok(Viewer {
            user: Some(user),
            account_settings,
            ..
        }) => {
            // The same on every page the user sees: rendered once per
            // session read (see `RenderOnce`), the name copied only then.
            user.rendered
                .user_menu
                .show(|| {
                    view! {
                        <UserMenu
                            name=user.display_name.clone()
                            is_admin=user.is_admin
                            account_settings=*account_settings
                        />
                    }
                })
                .into_any()
        }
        Ok(_) => view! { <GuestActions/> }.into_any(),
        // The page says what went wrong; the header claims nothing.
        Err(_) => ().into_any(),
    };
    view! {
        <header class="site-header">
            <div class="bar">
                <Brand/>
                {account}
            </div>
        </header>
    }
}

/// Sign-in and sign-up, except on the home page, whose body offers both.
#[component]
fn GuestActions() -> impl IntoView {
    let on_home = use_location().pathname.get_untracked() == paths::HOME;
    (!on_home).then(|| {
        view! {
            <nav class="header-actions" aria-label="Account">
                <a class="button small" href=paths::LOGIN>"Login"</a>
                <a class="button small secondary" href=paths::SIGNUP>"Sign up"</a>
            </nav>
        }
    })
}

/// A disclosure menu: a plain `<details>`, so it opens with a keyboard,
/// a screen reader and without JavaScript alike.
#[component]
fn UserMenu(name: String, is_admin: bool, account_settings: bool) -> impl IntoView {
    let initial = name
        .chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default();
    let label = name.clone();
    view! {
        <nav class="user-menu" aria-label="Account">
            <details class="menu">
                // Named for screen readers also where a narrow screen shows
                // only the avatar.
                <summary aria-label=label>
                    <span class="avatar" aria-hidden="true">{initial}</span>
                    <span class="menu-name">{name}</span>
                </summary>
                <ul>
                    {account_settings.then(|| view! { <li><AccountSettingsLink/></li> })}
                    <li><a href=paths::SECURITY>"Security"</a></li>
                    {is_admin.then(|| view! { <li><a href=paths::ADMIN>"Admin"</a></li> })}
                    <li><LogoutForm/></li>
                </ul>
            </details>
        </nav>
    }
}
