use leptos::prelude::*;

use crate::components::{LogoutForm, ViewerState};
use crate::model::Viewer;
use crate::paths;

/// `/logout`: signing out changes state, so a link (a GET) only shows this
/// page; the button on it sends the POST that signs out.
#[component]
pub fn LogoutPage() -> impl IntoView {
    match ViewerState::get().viewer() {
        Ok(Viewer {
            user: Some(user), ..
        }) => view! {
            <h1>"Sign out"</h1>
            <p>"You are signed in as " <strong>{user.display_name.clone()}</strong> "."</p>
            <div class="actions">
                <LogoutForm/>
                <a class="button secondary" href=paths::HOME>"Stay signed in"</a>
            </div>
        }
        .into_any(),
        Err(error) => view! {
            <h1>"Sign out"</h1>
            <p class="notice error" role="alert">{error.to_string()}</p>
        }
        .into_any(),
        Ok(_) => view! {
            <h1>"You are signed out"</h1>
            <div class="actions">
                <a class="button" href=paths::HOME>"Home"</a>
            </div>
        }
        .into_any(),
    }
}
