use leptos::prelude::*;

use crate::api::Logout;

/// A real form: it signs out with or without JavaScript.
#[component]
pub fn LogoutForm(action: ServerAction<Logout>) -> impl IntoView {
    view! {
        <ActionForm action>
            <button type="submit" class="button">"Logout"</button>
        </ActionForm>
    }
}
