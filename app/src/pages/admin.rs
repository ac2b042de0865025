use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::load_admin;
use crate::components::{page_data, Loading, PageFailure, PageHeading, SignInPrompt};
use crate::model::{AdminAccess, ApiError, Page};
use crate::paths;

/// `/admin`: only for users with the admin role, as the server decides on
/// every visit (see `api::load_admin`); 403 for other signed-in users, a
/// sign-in prompt (401) for guests.
#[component]
pub fn AdminPage() -> impl IntoView {
    let data = page_data(load_admin);
    let page = move || {
        match data.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Ok(Page { content, .. })) => granted(content).into_any(),
        Some(Err(ApiError::SignedOut | ApiError::SessionEnded)) => view! {
            <SignInPrompt heading="Admin" why="Please sign in to see this page." back_to=paths::ADMIN/>
        }
        .into_any(),
        Some(Err(ApiError::Forbidden { role })) => view! {
            <PageHeading>"You do not have access to this page"</PageHeading>
            <p class="notice error" role="alert">
                "This page is for users with the " <code>{role}</code> " role. "
                "An administrator can give it to you in the Authgear portal."
            </p>
            <div class="actions">
                <A href=paths::HOME attr:class="button">"Home"</A>
            </div>
        }
        .into_any(),
        Some(Err(error)) => view! { <PageFailure heading="Admin" error/> }.into_any(),
    }
    };
    view! {
        <Title text="Admin"/>
        {page}
    }
}

fn granted(AdminAccess { role, name }: AdminAccess) -> impl IntoView {
    view! {
        <PageHeading>"Admin"</PageHeading>
        <p class="notice" role="status">
            "Welcome, " {name} ". You have the " <code>{role}</code> " role."
        </p>
        <section class="card" aria-labelledby="admin-heading">
            <h2 id="admin-heading">"Administration"</h2>
            <p>"Put what only administrators may see or do here."</p>
        </section>
    }
}
