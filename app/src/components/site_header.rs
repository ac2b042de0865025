use leptos::html::Details;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use super::{AccountSettingsLink, BrandMark, LogoutForm, SharedViewer};
use crate::model::{Account, Viewer};
use crate::paths;

/// The app's name, and the user's menu or the way to sign in.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let viewer = SharedViewer::get();
    let account = move || match viewer.viewer() {
        Ok(Viewer {
            user: Some(account),
            account_settings,
            ..
        }) => view! { <UserMenu account account_settings/> }.into_any(),
        Ok(_) => view! { <GuestActions/> }.into_any(),
        // The page says what went wrong; the header claims nothing.
        Err(_) => ().into_any(),
    };
    view! {
        <header class="site-header">
            <div class="bar">
                <A href=paths::HOME attr:class="brand">
                    <BrandMark/>
                </A>
                {account}
            </div>
        </header>
    }
}

/// Sign-in and sign-up, except on the home page, whose body offers both.
/// They leave the app for the provider: never routed in the browser.
#[component]
fn GuestActions() -> impl IntoView {
    let path = use_location().pathname;
    move || {
        (path.get() != paths::HOME).then(|| {
            view! {
                <nav class="header-actions" aria-label="Account">
                    <a class="button small" href=paths::LOGIN rel="external">"Login"</a>
                    <a class="button small secondary" href=paths::SIGNUP rel="external">"Sign up"</a>
                </nav>
            }
        })
    }
}

/// A disclosure menu: a plain `<details>`, so it opens with a keyboard,
/// a screen reader and without JavaScript alike. It closes when a page
/// opens in the browser, as it would with a page load.
#[component]
fn UserMenu(account: Account, account_settings: bool) -> impl IntoView {
    let Account {
        display_name: name,
        is_admin,
    } = account;
    let initial = name
        .chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default();
    let label = name.clone();
    let menu = NodeRef::<Details>::new();
    let path = use_location().pathname;
    Effect::new(move |_| {
        path.track();
        if let Some(menu) = menu.get_untracked() {
            menu.set_open(false);
        }
    });
    view! {
        <nav class="user-menu" aria-label="Account">
            <details class="menu" node_ref=menu>
                // Named for screen readers also where a narrow screen shows
                // only the avatar.
                <summary aria-label=label>
                    <span class="avatar" aria-hidden="true">{initial}</span>
                    <span class="menu-name">{name}</span>
                </summary>
                <ul>
                    {account_settings.then(|| view! { <li><AccountSettingsLink/></li> })}
                    <li><A href=paths::SECURITY>"Security"</A></li>
                    {is_admin.then(|| view! { <li><A href=paths::ADMIN>"Admin"</A></li> })}
                    <li><LogoutForm/></li>
                </ul>
            </details>
        </nav>
    }
}
