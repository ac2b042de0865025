use leptos::prelude::*;

use crate::paths;

/// The app's name, linking home: the left of every page's header.
#[component]
pub fn Brand() -> impl IntoView {
    view! {
        <a class="brand" href=paths::HOME>
            <span class="logo" aria-hidden="true"></span>
            "Authgear + Leptos"
        </a>
    }
}
