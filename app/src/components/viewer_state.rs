use std::sync::Arc;

use leptos::prelude::*;

use crate::model::{ApiError, Viewer};

/// Who is looking at the page, settled by the server before the page renders
/// (see `api::viewer`), so that the header and the page read it at once
/// instead of each waiting for it. Pages are rendered on the server only;
/// the browser hydrates just their islands.
#[derive(Clone)]
pub struct ViewerState(Arc<Result<Viewer, ApiError>>);

impl ViewerState {
    /// Gives the page being rendered its viewer.
    pub fn provide(viewer: Arc<Result<Viewer, ApiError>>) {
        provide_context(Self(viewer));
    }

    /// The viewer the server provided. Without one (a rendering outside the
    /// server's page handler, as when the routes are listed at start), an
    /// error: the page then shows neither a user nor a guest.
    pub fn get() -> Self {
        use_context().unwrap_or_else(|| Self(Arc::new(Err(ApiError::Internal))))
    }

    pub fn viewer(&self) -> &Result<Viewer, ApiError> {
        &self.0
    }
}
