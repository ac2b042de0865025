//! How every page gets its data: one server function (see `api`).
//!
//! The first page of a visit is rendered on the server, which calls the
//! function in-process (it answers at once: who is looking was settled
//! before rendering) and sends the answer inside the HTML, where hydration
//! reads it back: the first page asks nothing twice. A page opened after a
//! navigation in the browser calls the function once. Whatever an answer
//! says of who is looking is learnt by the [`SharedViewer`], so the header
//! and the notices follow.
//!
//! A `SharedValue` and a signal rather than a `Resource` read under
//! `<Suspense>`: the answer is there at once, so the server renders the
//! page in one synchronous pass.

use std::future::Future;

use leptos::prelude::*;
use leptos::server::SharedValue;
use serde::{de::DeserializeOwned, Serialize};

use super::viewer::{SharedViewer, Viewed};
use crate::codec::Json;
use crate::model::ApiError;

/// An answer of a page's server function; `None` while it is on its way.
pub type PageAnswer<T> = Option<Result<T, ApiError>>;

/// The page's data, from `load`: one of `api`'s page functions.
pub fn page_data<T, F, Fut>(load: F) -> ReadSignal<PageAnswer<T>>
where
    T: Viewed + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    F: Fn() -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
{
    let viewer = SharedViewer::get();
    let first = SharedValue::<PageAnswer<T>, Json>::new_with_encoding(|| rendered_on_server(load));
    let data = RwSignal::new(first.into_inner());
    let fetch = move || {
        leptos::task::spawn_local(async move {
            let answer = load().await;
            viewer.learn(answer.as_ref().map(Viewed::viewer));
            // The page may be gone by now.
            data.try_set(Some(answer));
        })
    };
    // Opened in the browser: ask.
    #[cfg(not(feature = "ssr"))]
    if data.with_untracked(Option::is_none) {
        fetch();
    }
    // What the page shows changed on the server: ask again.
    if let Some(reloads) = PageReloads::get() {
        Effect::watch(move || reloads.0.get(), move |_, _, _| fetch(), false);
    }
    data.read_only()
}

/// The answer, while the server renders the page: at once, as the page
/// handler settled who is looking before rendering.
#[cfg(feature = "ssr")]
fn rendered_on_server<T, F, Fut>(load: F) -> PageAnswer<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    use futures_util::FutureExt;
    load().now_or_never()
}

/// In the browser this runs only for a page opened after a navigation (a
/// hydrated page reads the server's answer back instead): nothing yet.
#[cfg(not(feature = "ssr"))]
fn rendered_on_server<T, F>(_: F) -> PageAnswer<T> {
    None
}

/// Bumped when what the page shows changed on the server (the profile
/// fetched again, a session signed out): the page on show asks for its data
/// again.
#[derive(Clone, Copy)]
pub struct PageReloads(RwSignal<u32>);

impl PageReloads {
    /// Called once, by `App`.
    pub fn provide() {
        provide_context(Self(RwSignal::new(0)));
    }

    /// The app's, if any (a lone rendering has none).
    pub fn get() -> Option<Self> {
        use_context()
    }

    /// The page on show loads its data again.
    pub fn bump(self) {
        self.0.update(|count| *count = count.wrapping_add(1));
    }
}

/// Shown while a page's data is on its way: a moment, after a navigation.
#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="muted" role="status">"Loading…"</p> }
}
