use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::current_viewer;
use crate::components::{page_data, Loading, LogoutForm, PageFailure, PageHeading};
use crate::model::Viewer;
use crate::paths;

/// `/logout`: signing out changes state, so a link (a GET) only shows this
/// page; the button on it sends the POST that signs out.
#[component]
pub fn LogoutPage() -> impl IntoView {
    let data = page_data(current_viewer);
    let page = move || match data.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Ok(Viewer {
            user: Some(user), ..
        })) => view! {
            <PageHeading>"Sign out"</PageHeading>
            <p>"You are signed in as " <strong>{user.display_name}</strong> "."</p>
            <div class="actions">
                <LogoutForm/>
                <A href=paths::HOME attr:class="button secondary">"Stay signed in"</A>
            </div>
        }
        .into_any(),
        Some(Ok(_)) => view! {
            <PageHeading>"You are signed out"</PageHeading>
            <div class="actions">
                <A href=paths::HOME attr:class="button">"Home"</A>
            </div>
        }
        .into_any(),
        Some(Err(error)) => view! { <PageFailure heading="Sign out" error/> }.into_any(),
    };
    view! {
        <Title text="Sign out"/>
        {page}
    }
}
