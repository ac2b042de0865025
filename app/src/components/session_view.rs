use leptos::prelude::*;

use crate::model::SessionDetails;

/// The session as pretty JSON, with a button that hides it.
#[component]
pub fn SessionView(details: SessionDetails) -> impl IntoView {
    view! {
        <section class="session">
            <Collapsible>
                // Focusable, so keyboard users can scroll it.
                <pre tabindex="0">{details.json}</pre>
            </Collapsible>
        </section>
    }
}

/// The heading, the button and what it hides. An island: the JSON inside is
/// rendered on the server and never sent again as the island's props. The
/// button only works once the island is live: it is the page's proof of life.
#[island]
fn Collapsible(children: Children) -> impl IntoView {
    let shown = RwSignal::new(true);
    view! {
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
        <div id="session-json" hidden=move || !shown.get()>{children()}</div>
    }
}
