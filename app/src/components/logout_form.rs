use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::api::Logout;

/// A plain form: the browser posts it and follows the server's redirect to
/// the provider's end-session page, with or without JavaScript.
#[component]
pub fn LogoutForm() -> impl IntoView {
    view! {
        <form method="post" action=Logout::PATH>
            <button type="submit" class="button">"Logout"</button>
        </form>
    }
}
