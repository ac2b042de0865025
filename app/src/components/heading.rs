use leptos::html::H1;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// The page's `<h1>`. After a navigation in the browser, the new page's
/// heading takes the focus, so that a screen reader announces the new page
/// as it would a page load; the page the visit began on, or the same page
/// shown again with new data, leaves the focus where it is.
#[component]
pub fn PageHeading(children: Children) -> impl IntoView {
    let heading = NodeRef::<H1>::new();
    let focused = use_context::<FocusedPath>();
    let path = use_location().pathname;
    Effect::new(move |_| {
        let (Some(heading), Some(focused)) = (heading.get(), focused) else {
            return;
        };
        let path = path.get_untracked();
        let last = focused.0.with_value(Clone::clone);
        if last.as_ref() != Some(&path) {
            focused.0.set_value(Some(path));
            // The page the visit began on keeps the focus where it is.
            if last.is_some() {
                focus_once_shown(heading, 10);
            }
        }
    });
    view! { <h1 tabindex="-1" node_ref=heading>{children()}</h1> }
}

/// Focuses `heading` once it is in the document: a page whose data came
/// after a navigation is built before it is shown, a frame or so later.
fn focus_once_shown(heading: leptos::web_sys::HtmlHeadingElement, frames: u8) {
    if heading.is_connected() {
        let _ = heading.focus();
    } else if frames > 0 {
        request_animation_frame(move || focus_once_shown(heading, frames - 1));
    }
}

/// The path whose page's heading last took the focus, or on which the visit
/// began; `None` until the first page is shown.
#[derive(Clone, Copy)]
pub struct FocusedPath(StoredValue<Option<String>>);

impl FocusedPath {
    /// Called once, by `App`.
    pub fn provide() {
        provide_context(Self(StoredValue::new(None)));
    }
}
