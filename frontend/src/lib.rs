//! The browser entry point. The page is HTML from the server; only its
//! islands (`#[island]` components in `app`) are made interactive, by the
//! loader Leptos puts in the page, which calls `hydrate` first.

use std::time::Duration;

use wasm_bindgen::prelude::wasm_bindgen;

// Links the app, whose islands export themselves to the loader.
#[allow(unused_imports)]
use app::*;

#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Tells tests (and curious people) that the loader has run. It hydrates
    // the islands right after this returns, without yielding to other tasks,
    // so a task queued now runs once it has tried them all.
    leptos::prelude::set_timeout(
        || {
            if let Some(body) = leptos::prelude::document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        Duration::ZERO,
    );
}
