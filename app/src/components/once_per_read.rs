//! Parts of pages made from one session read alone: on the server each is
//! rendered the first time a page needs it and its HTML copied into every
//! later page made from that read; in the browser it is rendered and
//! hydrated as any other part (the copy is the same HTML, to the byte).
//!
//! A part is a plain function of what it shows (`fn(&Profile) -> V`): it
//! captures nothing, so what it shows cannot come from a request, and a
//! copy is never another page's or older than the read. The read itself is
//! per instance and at most `SESSION_CACHE_TTL` old (`auth::store::recent`).

use std::sync::Arc;

use leptos::prelude::*;

use crate::model::{Profile, Viewer};

/// A part of the home page made from the user's [`Profile`]: the profile
/// card, the session view (most of a signed-in page's work) and the buttons.
#[component]
pub fn ProfilePart<V>(profile: Arc<Profile>, part: fn(&Profile) -> V) -> impl IntoView
where
    V: IntoView + 'static,
{
    #[cfg(feature = "ssr")]
    if let Some(html) = rendered_once((part as *const () as usize, 0), |visit| {
        let user = visit.signed_in()?;
        Some(part(&user.shown().profile).to_html())
    }) {
        return html.into_any();
    }
    part(&profile).into_any()
}

/// A part of every page made from who is looking: the user's menu. Its
/// links mark the page they lead to as the current one, so there is one
/// copy per `current` (`0` when none of them is), which must say which.
#[component]
pub fn ViewerPart<V>(viewer: Viewer, current: u8, part: fn(&Viewer) -> V) -> impl IntoView
where
    V: IntoView + 'static,
{
    #[cfg(feature = "ssr")]
    if let Some(html) = rendered_once((part as *const () as usize, current), |visit| {
        visit.signed_in()?;
        Some(part(&visit.viewer().ok()?).to_html())
    }) {
        return html.into_any();
    }
    let _ = current;
    part(&viewer).into_any()
}

/// The part known as `key`, as the session read of this request shows it:
/// rendered by `render` unless a page made from the same read did already.
#[cfg(feature = "ssr")]
fn rendered_once(
    key: (usize, u8),
    render: impl FnOnce(&crate::api::Visit) -> Option<String>,
) -> Option<leptos::tachys::html::InertElement> {
    let visit = use_context::<crate::api::Visit>()?;
    let user = visit.signed_in()?;
    let html = user.shown().part(key, || render(&visit))?;
    Some(leptos::tachys::html::InertElement::new(html.to_string()))
}
