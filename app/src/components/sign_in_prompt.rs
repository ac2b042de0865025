use leptos::prelude::*;

use super::PageHeading;
use crate::paths;

/// What a page for signed-in users shows a guest: why, and a Login link
/// that comes back to the page (`return_to`). It leaves the app for the
/// provider: never routed in the browser.
#[component]
pub fn SignInPrompt(
    heading: &'static str,
    why: &'static str,
    back_to: &'static str,
) -> impl IntoView {
    view! {
        <PageHeading>{heading}</PageHeading>
        <p>{why}</p>
        <div class="actions">
            <a
                class="button"
                href=format!("{}?return_to={}", paths::LOGIN, back_to)
                rel="external"
            >
                "Login"
            </a>
        </div>
    }
}
