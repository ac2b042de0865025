use leptos::prelude::*;

/// Says plainly that sign-in goes to the local test provider, not Authgear.
#[component]
pub fn LocalProviderBanner() -> impl IntoView {
    view! {
        <p class="banner" role="note">
            "Signing in with the " <strong>"local development provider"</strong>
            ". Put your Authgear project in " <code>".env"</code> " to use Authgear."
        </p>
    }
}
