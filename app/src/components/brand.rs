use leptos::prelude::*;

use crate::paths;

/// The app's name, linking home: the left of every page's header. A plain
/// link, for the pages the server sends outside the app; the app's own
/// header routes it in the browser (see `SiteHeader`).
#[component]
pub fn Brand() -> impl IntoView {
    view! {
        <a class="brand" href=paths::HOME>
            <BrandMark/>
        </a>
    }
}

/// The logo and the name.
#[component]
pub fn BrandMark() -> impl IntoView {
    view! {
        <span class="logo" aria-hidden="true"></span>
        "Authgear + Leptos"
    }
}
