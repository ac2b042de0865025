use std::sync::{Arc, RwLock};

use leptos::prelude::*;
use leptos::tachys::html::InertElement;

/// A part of a page rendered the first time it is shown, then copied; or,
/// for a part that also shows a value `K` that moves on (the seconds left
/// on the access token), rendered again only when that value changes, so
/// that the requests of the same second copy it.
///
/// For parts made only from a [`UserView`](crate::model::UserView) and that
/// value: the view is made once per session read and shared by every
/// request that read serves (see `auth::session`), and so is the HTML kept
/// here. A session changed here, or read again after `SESSION_CACHE_TTL`
/// elsewhere, is a new view with nothing rendered yet, so the HTML is never
/// older than the view.
///
/// Clones share what was rendered. What the part shows must come from the
/// view, the key, or the settings (fixed while the server runs), never
/// from the request: not a nonce or the path. And it renders in one pass:
/// no `Suspense`.
pub struct RenderOnce<K = ()>(Arc<RwLock<Option<(K, String)>>>);

impl RenderOnce {
    /// The HTML of `part`, which must have a single root element: rendered
    /// now if it has not been yet.
    pub fn show<V: IntoView>(&self, part: impl FnOnce() -> V) -> InertElement {
        self.show_for((), part)
    }
}

impl<K: PartialEq> RenderOnce<K> {
    /// The HTML of `part` showing `key`: rendered now unless the last one
    /// rendered showed the same.
    pub fn show_for<V: IntoView>(&self, key: K, part: impl FnOnce() -> V) -> InertElement {
        // A lock is only ever poisoned by a panic while copying a string:
        // then the part is rendered, as if nothing were kept.
        if let Ok(last) = self.0.read() {
            if let Some((shown, html)) = last.as_ref() {
                if *shown == key {
                    // Inserted as it is: `to_html` escaped what it had to.
                    return InertElement::new(html.clone());
                }
            }
        }
        let html = part().to_html();
        if let Ok(mut last) = self.0.write() {
            *last = Some((key, html.clone()));
        }
        InertElement::new(html)
    }
}

/// The parts of pages made from one user's view alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    pub user_menu: RenderOnce,
    pub profile: RenderOnce,
    pub session: RenderOnce,
    /// The profile's buttons: the same for everyone, but cheaper kept here
    /// than rendered on every page.
    pub profile_actions: RenderOnce,
    /// Keyed by the access token's remaining seconds, which it shows.
    pub api_panel: RenderOnce<Option<u64>>,
}

impl<K> Default for RenderOnce<K> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<K> Clone for RenderOnce<K> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

/// A cache: any two are alike, so that views compare by what they show.
impl<K> PartialEq for RenderOnce<K> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<K> std::fmt::Debug for RenderOnce<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rendered = self.0.read().map(|last| last.is_some()).unwrap_or(false);
        let state = if rendered { "rendered" } else { "empty" };
        f.debug_tuple("RenderOnce").field(&state).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_part_is_rendered_once_escaped_and_clones_share_it() {
        let once = RenderOnce::default();
        let renders = Cell::new(0);
        let part = |name: &'static str| {
            renders.set(renders.get() + 1);
            view! { <p title=name>{name}</p> }
        };
        let first = once.show(|| part("<b>Ada</b>")).to_html();
        assert_eq!(
            first,
            "<p title=\"&lt;b&gt;Ada&lt;/b&gt;\">&lt;b&gt;Ada&lt;/b&gt;</p>"
        );
        assert_eq!(once.clone().show(|| part("Ada King")).to_html(), first);
        assert_eq!(renders.get(), 1, "shown twice, rendered once");

        // A new view starts with nothing rendered.
        let fresh = RenderOnce::default().show(|| part("Ada King")).to_html();
        assert_eq!(fresh, "<p title=\"Ada King\">Ada King</p>");
        assert_eq!(renders.get(), 2);
    }

    #[test]
    fn a_keyed_part_is_rendered_again_only_when_its_key_changes() {
        let once = RenderOnce::<Option<u64>>::default();
        let renders = Cell::new(0);
        let part = |left: Option<u64>| {
            renders.set(renders.get() + 1);
            view! { <p>{left.map_or("—".to_owned(), |s| s.to_string())}</p> }
        };
        let html = |left| once.clone().show_for(left, || part(left)).to_html();
        assert_eq!(html(Some(60)), "<p>60</p>");
        assert_eq!(html(Some(60)), "<p>60</p>");
        assert_eq!(renders.get(), 1, "the same second, rendered once");
        assert_eq!(html(Some(59)), "<p>59</p>");
        assert_eq!(html(None), "<p>—</p>");
        assert_eq!(html(Some(59)), "<p>59</p>", "only the last is kept");
        assert_eq!(renders.get(), 4);
    }
}
