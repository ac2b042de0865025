//! The app: pages, components and server functions, compiled for the server
//! (feature `ssr`) and for the browser (feature `hydrate`).

pub mod api;
pub mod assets;
#[cfg(feature = "ssr")]
pub mod auth;
pub mod claims;
pub mod codec;
pub mod components;
#[cfg(feature = "ssr")]
pub mod csp;
pub mod model;
pub mod pages;
pub mod paths;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::StaticSegment;

use components::{FocusedPath, PageReloads, SharedViewer, SiteHeader};
use pages::{
    admin::AdminPage, home::HomePage, logout::LogoutPage, not_found::NotFound,
    security::SecurityPage, sessions::SessionsPage,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    csp::apply();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                // No icon: without this the browser asks for /favicon.ico.
                <link rel="icon" href="data:,"/>
                <link rel="stylesheet" id="leptos" href=assets::stylesheet()/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The whole app: rendered on the server for the first page of a visit,
/// hydrated in the browser, then every page after it is shown by the router
/// in the browser, with its data from one server function (see `api`).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let viewer = SharedViewer::provide();
    PageReloads::provide();
    FocusedPath::provide();
    let notice = move || {
        viewer
            .viewer()
            .ok()
            .and_then(|viewer| viewer.notice)
            .map(|notice| view! { <p class="notice" role="status">{notice.text()}</p> })
    };
    view! {
        <Title formatter=|page: String| format!("{page} · Authgear + Leptos")/>
        <Router>
            <SkipLink/>
            <SiteHeader/>
            <main id="main" tabindex="-1">
                {notice}
                <Routes fallback=NotFound>
                    <Route path=StaticSegment(paths::segment(paths::HOME)) view=HomePage/>
                    <Route path=StaticSegment(paths::segment(paths::LOGOUT)) view=LogoutPage/>
                    <Route path=StaticSegment(paths::segment(paths::SECURITY)) view=SecurityPage/>
                    <Route path=StaticSegment(paths::segment(paths::ADMIN)) view=AdminPage/>
                    <Route path=StaticSegment(paths::segment(paths::SESSIONS)) view=SessionsPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// "Skip to content": moves the focus to the page's content. The browser
/// does that by itself for a `#main` link; the router would take the click
/// for a navigation.
#[component]
fn SkipLink() -> impl IntoView {
    let skip = move |event: leptos::ev::MouseEvent| {
        event.prevent_default();
        if let Some(main) = document().get_element_by_id("main") {
            use leptos::wasm_bindgen::JsCast;
            if let Ok(main) = main.dyn_into::<leptos::web_sys::HtmlElement>() {
                let _ = main.focus();
            }
        }
    };
    view! { <a class="skip-link" href="#main" on:click=skip>"Skip to content"</a> }
}
