//! How every page gets its data: one server function (see `api`), read
//! through a resource. The first page of a visit is rendered on the server,
//! which calls the function in-process and sends its answer with the HTML,
//! so hydration makes no request; each later navigation calls it once from
//! the browser. Whatever the answer says of who is looking is learnt by the
//! [`SharedViewer`], so the header and the notices follow.

use std::future::Future;

use leptos::prelude::*;
use serde::{de::DeserializeOwned, Serialize};

use super::viewer::{SharedViewer, Viewed};
use crate::codec::Json;
use crate::model::ApiError;

/// Bumped when the user's profile was fetched again: the page on show asks
/// for its data again.
#[derive(Clone, Copy)]
pub struct ProfileReloads(RwSignal<u32>);

impl ProfileReloads {
    /// Called once, by `App`.
    pub fn provide() {
        provide_context(Self(RwSignal::new(0)));
    }

    /// The page on show loads its data again.
    pub fn bump(self) {
        self.0.update(|count| *count = count.wrapping_add(1));
    }
}

/// The page's data, from `load`: one of `api`'s page functions.
pub fn page_data<T, F, Fut>(load: F) -> Resource<Result<T, ApiError>, Json>
where
    T: Viewed + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    F: Fn() -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
{
    let viewer = SharedViewer::get();
    let reloads = use_context::<ProfileReloads>().map(|reloads| reloads.0);
    Resource::new_with_options(
        move || reloads.map(|reloads| reloads.get()),
        move |_| async move {
            let answer = load().await;
            viewer.learn(answer.as_ref().map(Viewed::viewer));
            answer
        },
        false,
    )
}

/// Shown while a page's data is on its way: a moment, after a navigation.
#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="muted" role="status">"Loading…"</p> }
}
