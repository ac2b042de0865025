use std::sync::Arc;

use leptos::prelude::*;

use crate::model::Profile;

/// A part of the home page made from the user's [`Profile`] alone.
///
/// On the server it is rendered once per session read and its HTML copied
/// into every page made from that read (the profile card and the session
/// view are most of a signed-in page's work); in the browser it is rendered
/// and hydrated as any other part. `part` is a plain function of the
/// profile: it captures nothing, so what it shows cannot come from a
/// request, and the copy is never another page's or older than the read.
#[component]
pub fn ProfilePart<V>(profile: Arc<Profile>, part: fn(&Profile) -> V) -> impl IntoView
where
    V: IntoView + 'static,
{
    #[cfg(feature = "ssr")]
    if let Some(html) = rendered_once(part) {
        return leptos::tachys::html::InertElement::new(html).into_any();
    }
    part(&profile).into_any()
}

/// The part's HTML as the session read the page is made from shows it: the
/// same profile the page's data carries (see `api::load_home`).
#[cfg(feature = "ssr")]
fn rendered_once<V: IntoView + 'static>(part: fn(&Profile) -> V) -> Option<String> {
    let visit = use_context::<crate::api::Visit>()?;
    let user = visit.signed_in()?;
    let key = part as *const () as usize;
    let html = user.shown().part(key, |profile| part(profile).to_html());
    Some(html.to_string())
}
