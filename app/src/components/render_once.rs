use std::sync::{Arc, OnceLock};

use leptos::prelude::*;
use leptos::tachys::html::InertElement;

/// A part of a page rendered the first time it is shown, then copied.
///
/// For parts made only from a [`UserView`](crate::model::UserView): the view
/// is made once per session read and shared by every request that read
/// serves (see `auth::session`), and so is the HTML kept here. A session
/// changed here, or read again after `SESSION_CACHE_TTL` elsewhere, is a new
/// view with nothing rendered yet, so the HTML is never older than the view.
///
/// Clones share what was rendered. What the part shows must come from the
/// view (or the settings, fixed while the server runs), never from the
/// request: not the time, a nonce or the path. And it renders in one pass:
/// no `Suspense`.
#[derive(Clone, Default)]
pub struct RenderOnce(Arc<OnceLock<String>>);

impl RenderOnce {
    /// The HTML of `part`, which must have a single root element: rendered
    /// now if it has not been yet.
    pub fn show<V: IntoView>(&self, part: impl FnOnce() -> V) -> InertElement {
        let html = self.0.get_or_init(|| part().to_html());
        // Inserted as it is: `to_html` escaped what it had to.
        InertElement::new(html.clone())
    }
}

/// The parts of pages made from one user's view alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    pub user_menu: RenderOnce,
    pub profile: RenderOnce,
    pub session: RenderOnce,
}

/// A cache: any two are alike, so that views compare by what they show.
impl PartialEq for RenderOnce {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for RenderOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.0.get().is_some() {
            "rendered"
        } else {
            "empty"
        };
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
}
