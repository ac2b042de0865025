use leptos::prelude::*;

use crate::api::{current_viewer, Logout, ReloadProfile};
use crate::model::{ApiError, Viewer};

/// Who is looking at the page, shared by the header and the page itself so
/// that a page view asks the server once; refetched after a profile reload
/// or a logout, so the page follows what the server did. When the window
/// gets the focus back after the user opened the provider's account
/// settings in another tab, the profile is reloaded, so the page follows
/// what they did there.
#[derive(Clone, Copy)]
pub struct ViewerState {
    pub viewer: Resource<Result<Viewer, ApiError>>,
    pub reload: ServerAction<ReloadProfile>,
    pub logout: ServerAction<Logout>,
    /// The user opened the account settings; set by the link.
    pub left_for_settings: RwSignal<bool>,
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
        let left_for_settings = RwSignal::new(false);
        #[cfg(feature = "hydrate")]
        {
            // A profile reload, not just a refetch: whatever ran while the
            // user was away may have caught up before they changed anything.
            let listener = window_event_listener(leptos::ev::focus, move |_| {
                if left_for_settings.get_untracked() {
                    left_for_settings.set(false);
                    reload.dispatch(ReloadProfile {});
                }
            });
            on_cleanup(move || listener.remove());
        }
        provide_context(Self {
            viewer,
            reload,
            logout,
            left_for_settings,
        });
    }

    pub fn get() -> Self {
        expect_context()
    }
}
