//! Whole HTML documents the server sends without the app around them: the
//! sign-in problem page, the refused-request page and the hop that finishes a
//! sign-in. Built with `view!` so every piece of text is escaped.

use leptos::prelude::*;
use leptos::tachys::view::RenderHtml;

use crate::components::Brand;
use crate::paths;

/// A short page explaining why sign-in did not work, with a way out:
/// `retry` starts the sign-in again.
pub fn problem(title: &'static str, message: String, retry: &'static str) -> String {
    document(
        title,
        None,
        view! {
            <h1>{title}</h1>
            <p class="notice error" role="alert">{message}</p>
            <div class="actions">
                <a class="button" href=retry>"Try again"</a>
                <a class="button secondary" href=paths::HOME>"Home"</a>
            </div>
        },
    )
}

/// The answer to a request that changes something but came from another site.
pub fn forbidden() -> String {
    document(
        "Request refused",
        None,
        view! {
            <h1>"Request refused"</h1>
            <p class="notice error" role="alert">
                "This request did not come from this site, so nothing was changed."
            </p>
            <div class="actions">
                <a class="button" href=paths::HOME>"Home"</a>
            </div>
        },
    )
}

/// The first page after the provider sends the browser back.
///
/// That return is a cross-site navigation, and so is any redirect that
/// follows it: the browser would not send the new `SameSite=Strict` session
/// cookie and the user would look signed out. Navigating from this page is
/// same-site, so the cookie goes along.
pub fn signed_in_hop(target: &str) -> String {
    let target = target.to_owned();
    document(
        "Signing you in…",
        Some(format!("0;url={target}")),
        view! {
            <h1>"Signing you in…"</h1>
            <p><a class="button" href=target>"Continue"</a></p>
        },
    )
}

fn document(title: &'static str, refresh: Option<String>, body: impl IntoView + 'static) -> String {
    let page = view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                {refresh.map(|content| view! { <meta http-equiv="refresh" content=content/> })}
                <title>{title}</title>
                <link rel="stylesheet" href=crate::assets::stylesheet()/>
            </head>
            <body>
                <header class="site-header">
                    <div class="bar">
                        <Brand/>
                    </div>
                </header>
                <main id="main">{body}</main>
            </body>
        </html>
    };
    page.to_html()
}
