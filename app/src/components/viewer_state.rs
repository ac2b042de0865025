use leptos::prelude::*;

use crate::api::{current_viewer, Logout, ReloadProfile};
use crate::model::{ApiError, Viewer};

/// Who is looking at the page, shared by the header and the page itself so
/// that a page view asks the server once; refetched after a profile reload
/// or a logout, so the page follows what the server did, and when the
/// window gets the focus back (say, from the provider's account settings in
/// another tab), so it follows what the user did elsewhere.
#[derive(Clone, Copy)]
pub struct ViewerState {
    pub viewer: Resource<Result<Viewer, ApiError>>,
    pub reload: ServerAction<ReloadProfile>,
    pub logout: ServerAction<Logout>,
}

impl ViewerState {
    /// Creates the state and provides it to everything below.
    pub fn provide() {
        let reload = ServerAction::<ReloadProfile>::new();
        let logout = ServerAction::<Logout>::new();
        let viewer = Resource::new(
            move || (reload.version().get(), logout.version().get()),
            |_| current_viewer(),
        );
        #[cfg(feature = "hydrate")]
        {
            let listener = window_event_listener(leptos::ev::focus, move |_| viewer.refetch());
            on_cleanup(move || listener.remove());
        }
        provide_context(Self {
            viewer,
            reload,
            logout,
        });
    }

    pub fn get() -> Self {
        expect_context()
    }
}
