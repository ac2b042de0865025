use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::current_viewer;
use crate::components::{page_data, PageHeading};
use crate::paths;

/// Any path the app has no page for (404).
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    // Nothing here depends on who is looking, but the header does: a
    // navigation brings it up to date, as on every page. (Resources load
    // whether or not they are read.)
    let _ = page_data(current_viewer);
    view! {
        <Title text="Page not found"/>
        <PageHeading>"Page not found"</PageHeading>
        <p>"There is nothing at this address. It may have moved, or the link may be mistyped."</p>
        <div class="actions">
            <A href=paths::HOME attr:class="button">"Home"</A>
        </div>
    }
}
