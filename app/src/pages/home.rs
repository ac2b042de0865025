use leptos::prelude::*;

use crate::paths;

use crate::api::{current_viewer, Logout, ReloadProfile};
use crate::components::{LocalProviderBanner, LogoutForm, SessionView};
use crate::model::{UserView, Viewer};

/// `/`: "Welcome Guest" with a Login button, or the signed-in user and their
/// session.
#[component]
pub fn HomePage() -> impl IntoView {
    let reload = ServerAction::<ReloadProfile>::new();
    let logout = ServerAction::<Logout>::new();
    // Refetched after either action, so the page follows what the server did.
    let viewer = Resource::new(
        move || (reload.version().get(), logout.version().get()),
        |_| current_viewer(),
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match viewer.await {
                    Ok(viewer) => view! { <Home viewer reload logout/> }.into_any(),
                    Err(error) => {
                        view! { <p class="notice error" role="alert">{error.to_string()}</p> }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn Home(
    viewer: Viewer,
    reload: ServerAction<ReloadProfile>,
    logout: ServerAction<Logout>,
) -> impl IntoView {
    let Viewer {
        user,
        notice,
        local_provider,
    } = viewer;
    view! {
        <Show when=move || local_provider>
            <LocalProviderBanner/>
        </Show>
        {notice.map(|notice| view! { <p class="notice" role="status">{notice.text()}</p> })}
        {match user {
            None => view! { <Guest/> }.into_any(),
            Some(user) => view! { <SignedIn user reload logout/> }.into_any(),
        }}
    }
}

#[component]
fn Guest() -> impl IntoView {
    view! {
        <h1>"Welcome Guest"</h1>
        <p>"Sign in with Authgear to see your session."</p>
        // A plain link: `/login` is a server route, so the client router must not take it.
        <a class="button" href=paths::LOGIN rel="external">"Login"</a>
    }
}

#[component]
fn SignedIn(
    user: UserView,
    reload: ServerAction<ReloadProfile>,
    logout: ServerAction<Logout>,
) -> impl IntoView {
    let reload_error = move || {
        reload
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| view! { <p class="notice error" role="alert">{error.to_string()}</p> })
    };
    view! {
        <h1>{format!("Welcome {}", user.display_name)}</h1>
        <p class="muted">"Your session ends " <time datetime=user.session.ends_at.clone()>{user.session.ends_at.clone()}</time> " unless you use the app before then."</p>
        <SessionView details=user.session/>
        <div class="actions">
            <ActionForm action=reload>
                <button type="submit" class="button secondary">"Reload profile"</button>
            </ActionForm>
            <LogoutForm action=logout/>
        </div>
        {reload_error}
    }
}
