use leptos::prelude::*;

use crate::model::SessionDetails;

/// The session as pretty JSON, with a button that hides it.
#[component]
pub fn SessionView(details: SessionDetails) -> impl IntoView {
    let shown = RwSignal::new(true);
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
            <div id="session-json" hidden=move || !shown.get()>
                // Focusable, so keyboard users can scroll it.
                <pre tabindex="0">{details.json.get().to_owned()}</pre>
            </div>
        </section>
    }
}
