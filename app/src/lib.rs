//! The app: pages, components and server functions, compiled for the server
//! (feature `ssr`) and for the browser (feature `hydrate`).

pub mod api;
pub mod assets;
#[cfg(feature = "ssr")]
pub mod auth;
pub mod claims;
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

use components::SiteHeader;
use pages::{
    admin::AdminPage, home::HomePage, logout::LogoutPage, not_found::NotFound,
    security::SecurityPage,
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
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Authgear + Leptos"/>
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <SiteHeader/>
            <main id="main" tabindex="-1">
                // The server renders each page whole before sending it
                // (see `page` in server/src/lib.rs).
                <Routes fallback=NotFound>
                    <Route path=StaticSegment(paths::segment(paths::HOME)) view=HomePage/>
                    <Route path=StaticSegment(paths::segment(paths::LOGOUT)) view=LogoutPage/>
                    <Route path=StaticSegment(paths::segment(paths::SECURITY)) view=SecurityPage/>
                    <Route path=StaticSegment(paths::segment(paths::ADMIN)) view=AdminPage/>
                </Routes>
            </main>
        </Router>
    }
}
