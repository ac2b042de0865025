use leptos::prelude::*;

use crate::components::{LogoutForm, ViewerState};
use crate::model::Viewer;
use crate::paths;

/// `/logout`: signing out changes state, so a link (a GET) only shows this
/// page; the button on it sends the POST that signs out.
#[component]
pub fn LogoutPage() -> impl IntoView {
    let state = ViewerState::get();
    view! {
        <Suspense fallback=|| view! { <p class="muted" role="status">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match state.viewer.await {
                    Ok(Viewer { user: Some(user), .. }) => view! {
                        <h1>"Sign out"</h1>
                        <p>"You are signed in as " <strong>{user.display_name}</strong> "."</p>
                        <div class="actions">
                            <LogoutForm action=state.logout/>
                            <a class="button secondary" href=paths::HOME>"Stay signed in"</a>
                        </div>
                    }.into_any(),
                    _ => view! {
                        <h1>"You are signed out"</h1>
                        <div class="actions">
                            <a class="button" href=paths::HOME>"Home"</a>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
