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
    pub fn provide(viewer: Result<Viewer, ApiError>) {
        provide_context(Self(Arc::new(viewer)));
    }

    /// The viewer the server provided; an error if it provided none.
    pub fn get() -> Self {
        use_context().unwrap_or_else(|| {
            leptos::logging::error!(
                "the page was rendered without a viewer; see server/src/lib.rs"
            );
            Self(Arc::new(Err(ApiError::Internal)))
        })
    }

    pub fn viewer(&self) -> &Result<Viewer, ApiError> {
        &self.0
    }
}
