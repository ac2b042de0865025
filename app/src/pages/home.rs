use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::load_home;
use crate::components::{
    page_data, ApiPanel, Loading, LocalProviderBanner, LocalTime, PageHeading, ProfileActions,
    ProfileCard, ProfilePart, SessionView, SharedViewer,
};
use crate::model::{Home, Page, Profile};
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
                    (Ok(viewer), Some(home)) if viewer.user.is_some() => {
                        let name = viewer.user.map(|user| user.display_name);
                        signed_in(name.unwrap_or_default(), home).into_any()
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

fn signed_in(
    name: String,
    Home {
        profile,
        access_token_expires_in,
    }: Home,
) -> impl IntoView {
    let ends_at = profile.session.ends_at.clone();
    let profile = std::sync::Arc::new(profile);
    view! {
        <PageHeading>{format!("Welcome {name}")}</PageHeading>
        <p class="muted">
            "Your session ends " <LocalTime at=ends_at/> " unless you use the app before then."
        </p>
        <div class="cards">
            <ProfilePart profile=profile.clone() part=profile_card/>
            <ApiPanel expires_in=access_token_expires_in/>
        </div>
        <ProfilePart profile=profile.clone() part=session_view/>
        <ProfilePart profile part=profile_actions/>
    }
}

fn profile_card(profile: &Profile) -> impl IntoView {
    view! {
        <ProfileCard
            claims=profile.claims.clone()
            signed_in_at=profile.signed_in_at.clone()
        />
    }
}

fn session_view(profile: &Profile) -> impl IntoView {
    view! { <SessionView details=profile.session.clone()/> }
}

/// The same for everyone, and cheaper copied than rendered on every page.
fn profile_actions(_: &Profile) -> impl IntoView {
    view! { <ProfileActions/> }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use leptos::tachys::html::InertElement;

    use super::*;
    use crate::model::{SessionDetails, TokenMeta};

    fn profile() -> Profile {
        let claims = crate::claims::UserClaims::from_sources(&[&serde_json::json!({
            "sub": "user-42",
            "name": "Ada <Lovelace>",
            "email": "ada@example.com",
            "email_verified": true,
            "custom_attributes": {"team": "Analytical & Engine"},
            "x_tenant": "acme",
        })]);
        Profile {
            claims,
            signed_in_at: Some("2026-12-05T10:00:00Z".into()),
            session: SessionDetails {
                ends_at: "2026-12-12T10:00:00Z".into(),
                tokens: TokenMeta {
                    access_token_expires_at: None,
                    scopes: vec!["openid".into()],
                    has_refresh_token: true,
                },
                json: serde_json::value::RawValue::from_string(
                    "{\n  \"name\": \"Ada <Lovelace>\"\n}".into(),
                )
                .expect("JSON"),
            },
        }
    }

    /// The server copies a part's HTML into later pages (`ProfilePart`); the
    /// browser hydrates that copy as if the part had been rendered in place,
    /// so the two must be the same, markers and escaping included.
    #[test]
    fn a_copied_part_is_the_same_html_as_the_part_rendered_in_place() {
        let owner = Owner::new();
        owner.set();
        let card = same_html_copied(profile_card);
        assert!(card.contains("Ada &lt;Lovelace&gt;"), "escaped: {card}");
        same_html_copied(session_view);
        same_html_copied(profile_actions);
    }

    fn same_html_copied<V: IntoView + 'static>(part: fn(&Profile) -> V) -> String {
        let in_place = view! {
            <div class="cards">{part(&profile())}<p>"after"</p></div>
        }
        .to_html();
        let copy = InertElement::new(part(&profile()).to_html());
        let copied = view! { <div class="cards">{copy}<p>"after"</p></div> }.to_html();
        assert_eq!(copied, in_place);
        in_place
    }
}
