use leptos::prelude::*;

use crate::paths;

use crate::api::{current_viewer, Logout};
use crate::components::LogoutForm;
use crate::model::Viewer;

/// `/logout`: signing out changes state, so a link (a GET) only shows this
/// page; the button on it sends the POST that signs out.
#[component]
pub fn LogoutPage() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let viewer = Resource::new(move || logout.version().get(), |_| current_viewer());
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match viewer.await {
                    Ok(Viewer { user: Some(user), .. }) => view! {
                        <h1>"Sign out"</h1>
                        <p>"You are signed in as " <strong>{user.display_name}</strong> "."</p>
                        <div class="actions">
                            <LogoutForm action=logout/>
                            <a class="button secondary" href=paths::HOME>"Stay signed in"</a>
                        </div>
                    }.into_any(),
                    _ => view! {
                        <h1>"You are signed out"</h1>
                        <a class="button" href=paths::HOME>"Home"</a>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
