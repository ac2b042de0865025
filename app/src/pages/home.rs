use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::load_home;
use crate::components::{
    page_data, ApiPanel, Loading, LocalProviderBanner, LocalTime, PageHeading, ProfileActions,
    ProfileCard, SessionView, SharedViewer,
};
use crate::model::{Page, Profile};
use crate::paths;

/// `/`: "Welcome Guest" with Login and Sign up, or the signed-in user: their
/// profile, an API called on their behalf and their session.
#[component]
pub fn HomePage() -> impl IntoView {
    let data = page_data(load_home);
    let viewer = SharedViewer::get();
    let page = move || {
        let Some(answer) = data.get() else {
            return view! { <Loading/> }.into_any();
        };
        match answer {
            Ok(Page {
                viewer: shown,
                content,
            }) => {
                let banner = shown
                    .local_provider
                    .then(|| view! { <LocalProviderBanner/> });
                // Whoever is signed in now: a session found ended anywhere
                // in the app turns this page into the guest's.
                let body = move || match (viewer.viewer(), content.clone()) {
                    (Ok(viewer), Some(profile)) if viewer.user.is_some() => {
                        let name = viewer.user.map(|user| user.display_name);
                        signed_in(name.unwrap_or_default(), profile).into_any()
                    }
                    _ => view! { <Guest/> }.into_any(),
                };
                view! { {banner} {body} }.into_any()
            }
            Err(error) => view! {
                <PageHeading>"Welcome"</PageHeading>
                <p class="notice error" role="alert">{error.to_string()}</p>
            }
            .into_any(),
        }
    };
    view! {
        <Title text="Home"/>
        {page}
    }
}

#[component]
fn Guest() -> impl IntoView {
    view! {
        <section class="hero">
            <PageHeading>"Welcome Guest"</PageHeading>
            <p class="lead">
                "Sign in with Authgear to see your profile, your session, and an API "
                "called on your behalf without a token ever reaching the browser."
            </p>
            <div class="actions">
                // Both leave the app for the provider.
                <a class="button" href=paths::LOGIN rel="external">"Login"</a>
                <a class="button secondary" href=paths::SIGNUP rel="external">"Sign up"</a>
            </div>
        </section>
    }
}

fn signed_in(name: String, profile: Profile) -> impl IntoView {
    let Profile {
        claims,
        signed_in_at,
        access_token_expires_in,
        session,
    } = profile;
    let ends_at = session.ends_at.clone();
    view! {
        <PageHeading>{format!("Welcome {name}")}</PageHeading>
        <p class="muted">
            "Your session ends " <LocalTime at=ends_at/> " unless you use the app before then."
        </p>
        <div class="cards">
            <ProfileCard claims signed_in_at/>
            <ApiPanel expires_in=access_token_expires_in/>
        </div>
        <SessionView details=session/>
        <ProfileActions/>
    }
}
