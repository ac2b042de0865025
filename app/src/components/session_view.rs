use leptos::prelude::*;

use crate::model::SessionDetails;

/// The session as pretty JSON, with a button that hides it. The button only
/// works once the page has hydrated: it is the page's proof of life.
#[component]
pub fn SessionView(details: SessionDetails) -> impl IntoView {
    let shown = RwSignal::new(true);
    let json = details.json;
    view! {
        <section class="session">
            <header>
                <h2>"Your session"</h2>
                <button
                    type="button"
                    class="button secondary"
                    aria-controls="session-json"
                    aria-expanded=move || shown.get().to_string()
                    on:click=move |_| shown.update(|shown| *shown = !*shown)
                >
                    {move || if shown.get() { "Hide details" } else { "Show details" }}
                </button>
            </header>
            // Focusable, so keyboard users can scroll it.
            <pre id="session-json" tabindex="0" hidden=move || !shown.get()>{json}</pre>
        </section>
    }
}
