use leptos::prelude::*;

use crate::paths;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <h1>"Page not found"</h1>
        <p>"There is nothing at this address. It may have moved, or the link may be mistyped."</p>
        <div class="actions">
            <a class="button" href=paths::HOME>"Home"</a>
        </div>
    }
}
