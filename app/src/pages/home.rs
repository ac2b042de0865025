use leptos::prelude::*;

use crate::components::{
    ApiPanel, LocalProviderBanner, ProfileActions, ProfileCard, SessionView, ViewerState,
};
use crate::model::{UserView, Viewer};
use crate::paths;

/// `/`: "Welcome Guest" with Login and Sign up, or the signed-in user: their
/// profile, an API called on their behalf and their session.
#[component]
pub fn HomePage() -> impl IntoView {
    let state = ViewerState::get();
    match state.viewer() {
        Ok(viewer) => home(viewer).into_any(),
        Err(error) => {
            view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any()
        }
    }
}

/// Functions of the viewer rather than components: they borrow it, and
/// copy only what they show.
fn home(viewer: &Viewer) -> impl IntoView {
    view! {
        {viewer.local_provider.then(|| view! { <LocalProviderBanner/> })}
        {viewer.notice.map(|notice| view! { <p class="notice" role="status">{notice.text()}</p> })}
        {match &viewer.user {
            None => view! { <Guest/> }.into_any(),
            Some(user) => signed_in(user).into_any(),
        }}
    }
}

#[component]
fn Guest() -> impl IntoView {
    view! {
        <section class="hero">
            <h1>"Welcome Guest"</h1>
            <p class="lead">
                "Sign in with Authgear to see your profile, your session, and an API "
                "called on your behalf without a token ever reaching the browser."
            </p>
            <div class="actions">
                <a class="button" href=paths::LOGIN>"Login"</a>
                <a class="button secondary" href=paths::SIGNUP>"Sign up"</a>
            </div>
        </section>
    }
}

/// The cards, the session view and the buttons are rendered once per
/// session read (see `RenderOnce`), so the claims and the session are
/// copied only then; the API panel again each second, as its clock moves on.
fn signed_in(user: &UserView) -> impl IntoView {
    let (ends_at, shown_end) = (user.session.ends_at.clone(), user.session.ends_at.clone());
    let profile = user.rendered.profile.show(|| {
        view! { <ProfileCard claims=user.claims.clone() signed_in_at=user.signed_in_at.clone()/> }
    });
    let expires_in = user.access_token_expires_in;
    let api_panel = user
        .rendered
        .api_panel
        .show_for(expires_in, || view! { <ApiPanel expires_in/> });
    let session = user
        .rendered
        .session
        .show(|| view! { <SessionView details=user.session.clone()/> });
    let actions = user
        .rendered
        .profile_actions
        .show(|| view! { <ProfileActions/> });
    view! {
        <h1>{format!("Welcome {}", user.display_name)}</h1>
        <p class="muted">
            "Your session ends " <time datetime=ends_at>{shown_end}</time>
            " unless you use the app before then."
        </p>
        <div class="cards">
            {profile}
            {api_panel}
        </div>
        {session}
        {actions}
    }
}
