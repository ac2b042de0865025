use leptos::html::Details;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use super::{AccountSettingsLink, BrandMark, LogoutForm, SharedViewer, ViewerPart};
use crate::model::{Account, Viewer};
use crate::paths;

/// The app's name, and the user's menu or the way to sign in.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let viewer = SharedViewer::get();
    let path = use_location().pathname;
    let account = move || match viewer.viewer() {
        Ok(viewer) if viewer.user.is_some() => {
            // Which of the menu's links leads to the page on show: `<A>`
            // marks it (`aria-current`), so the menu's copies differ by it.
            let path = path.get_untracked();
            let current = MENU_LINKS
                .iter()
                .position(|link| leads_to(link, &path))
                .map_or(0, |at| at + 1) as u8;
            view! { <ViewerPart viewer current part=user_menu/> }.into_any()
        }
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

/// The pages the user's menu links to, in the app.
const MENU_LINKS: [&str; 3] = [paths::SESSIONS, paths::SECURITY, paths::ADMIN];

/// Whether `<A href=link>` marks itself current at `path`: when `link`'s
/// segments begin `path`'s (`leptos_router::components::A`, not `exact`).
fn leads_to(link: &str, path: &str) -> bool {
    std::iter::zip(path.split('/'), link.split('/')).all(|(path, link)| path == link)
        && path.split('/').count() >= link.split('/').count()
}

/// The same for every page made from one session read, but for the link
/// to the page on show (see `ViewerPart`).
fn user_menu(viewer: &Viewer) -> impl IntoView {
    viewer.user.clone().map(|account| {
        view! { <UserMenu account account_settings=viewer.account_settings/> }
    })
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
                    <li><A href=paths::SESSIONS>"Your sessions"</A></li>
                    <li><A href=paths::SECURITY>"Security"</A></li>
                    {is_admin.then(|| view! { <li><A href=paths::ADMIN>"Admin"</A></li> })}
                    <li><LogoutForm/></li>
                </ul>
            </details>
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_menu_link_is_current_where_the_router_marks_it() {
        assert!(leads_to("/admin", "/admin"));
        assert!(leads_to("/admin", "/admin/more"));
        assert!(!leads_to("/admin", "/adminfoo"));
        assert!(!leads_to("/admin", "/"));
        assert!(!leads_to("/security", "/admin"));
    }
}
