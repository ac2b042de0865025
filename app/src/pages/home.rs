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
    match ViewerState::get().viewer() {
        Ok(viewer) => view! { <Home viewer=viewer.clone()/> }.into_any(),
        Err(error) => {
            view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any()
        }
    }
}

#[component]
fn Home(viewer: Viewer) -> impl IntoView {
    let Viewer {
        user,
        notice,
        local_provider,
        ..
    } = viewer;
    view! {
        {local_provider.then(|| view! { <LocalProviderBanner/> })}
        {notice.map(|notice| view! { <p class="notice" role="status">{notice.text()}</p> })}
        {match user {
            None => view! { <Guest/> }.into_any(),
            Some(user) => view! { <SignedIn user/> }.into_any(),
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

/// The profile card and the session view are made from the view alone:
/// rendered once per session read (see `RenderOnce`). The API panel's clock
/// is not, and the profile's buttons cost little.
#[component]
fn SignedIn(user: UserView) -> impl IntoView {
    let UserView {
        display_name,
        claims,
        signed_in_at,
        access_token_expires_in,
        session,
        rendered,
        ..
    } = user;
    let (ends_at, shown_end) = (session.ends_at.clone(), session.ends_at.clone());
    view! {
        <h1>{format!("Welcome {display_name}")}</h1>
        <p class="muted">
            "Your session ends " <time datetime=ends_at>{shown_end}</time>
            " unless you use the app before then."
        </p>
        <div class="cards">
            {rendered.profile.show(move || view! { <ProfileCard claims signed_in_at/> })}
            <ApiPanel expires_in=access_token_expires_in/>
        </div>
        {rendered.session.show(move || view! { <SessionView details=session/> })}
        <ProfileActions/>
    }
}
