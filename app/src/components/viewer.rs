//! Who is looking at the app, shared by every part of it in the browser.

use leptos::prelude::*;

use crate::codec::Json;
use crate::model::{ApiError, Notice, Page, Viewer};

/// The viewer every component reads: filled from the server's rendering of
/// the first page (sent with the HTML, so hydration asks nothing), then
/// brought up to date by every server function's answer.
#[derive(Clone, Copy)]
pub struct SharedViewer(RwSignal<Result<Viewer, ApiError>>);

impl SharedViewer {
    /// Called once, by `App`. On the server the viewer is the one settled
    /// before rendering (`api::Visit`); in the browser, the same value, read
    /// back from the page.
    pub fn provide() -> Self {
        let first =
            leptos::server::SharedValue::<_, Json>::new_with_encoding(first_viewer).into_inner();
        let shared = Self(RwSignal::new(first));
        provide_context(shared);
        shared
    }

    pub fn get() -> Self {
        // Every component is inside `App`; a lone rendering (a test, the
        // route list made at start) shows neither a user nor a guest.
        use_context().unwrap_or_else(|| Self(RwSignal::new(Err(ApiError::Internal))))
    }

    /// The viewer, tracked.
    pub fn viewer(&self) -> Result<Viewer, ApiError> {
        self.0.get()
    }

    /// Whether someone is signed in, tracked.
    pub fn is_signed_in(&self) -> bool {
        self.0
            .with(|viewer| matches!(viewer, Ok(Viewer { user: Some(_), .. })))
    }

    /// Takes in what a server function answered about who is looking. A
    /// browser that was signed in and is now told otherwise shows that its
    /// session ended, whatever ended it (logout in another tab, a limit,
    /// the provider, an event on another instance).
    pub fn learn(&self, answer: Result<&Viewer, &ApiError>) {
        let next = self.0.with_untracked(|known| {
            let known = known.as_ref().ok();
            let was_signed_in = known.is_some_and(|known| known.user.is_some());
            let mut next = match answer {
                Ok(viewer) => viewer.clone(),
                Err(ApiError::SignedOut | ApiError::SessionEnded) => Viewer {
                    user: None,
                    notice: None,
                    ..known.cloned().unwrap_or_default()
                },
                // Says nothing of who is looking.
                Err(_) => return None,
            };
            if next.user.is_none()
                && (was_signed_in || matches!(answer, Err(ApiError::SessionEnded)))
            {
                next.notice = Some(Notice::SessionEnded);
            }
            (known != Some(&next)).then_some(next)
        });
        if let Some(next) = next {
            self.0.set(Ok(next));
        }
    }
}

/// An answer that says who is looking.
pub trait Viewed {
    fn viewer(&self) -> &Viewer;
}

impl Viewed for Viewer {
    fn viewer(&self) -> &Viewer {
        self
    }
}

impl<T> Viewed for Page<T> {
    fn viewer(&self) -> &Viewer {
        &self.viewer
    }
}

#[cfg(feature = "ssr")]
fn first_viewer() -> Result<Viewer, ApiError> {
    use_context::<crate::api::Visit>()
        .ok_or(ApiError::Internal)
        .and_then(|visit| visit.viewer())
}

/// Only while hydrating, when the server's value is read back instead.
#[cfg(not(feature = "ssr"))]
fn first_viewer() -> Result<Viewer, ApiError> {
    Err(ApiError::Internal)
}
