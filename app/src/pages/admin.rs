use leptos::prelude::*;

use crate::api::admin_gate;
use crate::model::AdminAccess;
use crate::paths;

/// `/admin`: only for users with the admin role (see `api::admin_gate`);
/// 403 for other signed-in users, a sign-in prompt (401) for guests.
#[component]
pub fn AdminPage() -> impl IntoView {
    let access = Resource::new(|| (), |_| admin_gate());
    view! {
        <Suspense fallback=|| view! { <p class="muted" role="status">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match access.await {
                    Ok(access) => view! { <Admin access/> }.into_any(),
                    Err(error) => view! {
                        <h1>"Admin"</h1>
                        <p class="notice error" role="alert">{error.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Admin(access: AdminAccess) -> impl IntoView {
    match access {
        AdminAccess::SignedOut => view! {
            <h1>"Admin"</h1>
            <p>"Please sign in to see this page."</p>
            <div class="actions">
                <a class="button" href=format!("{}?return_to={}", paths::LOGIN, paths::ADMIN)>"Login"</a>
            </div>
        }
        .into_any(),
        AdminAccess::Forbidden { role } => view! {
            <h1>"You do not have access to this page"</h1>
            <p class="notice error" role="alert">
                "This page is for users with the " <code>{role}</code> " role. "
                "An administrator can give it to you in the Authgear portal."
            </p>
            <div class="actions">
                <a class="button" href=paths::HOME>"Home"</a>
            </div>
        }
        .into_any(),
        AdminAccess::Granted { role, name } => view! {
            <h1>"Admin"</h1>
            <p class="notice" role="status">
                "Welcome, " {name} ". You have the " <code>{role}</code> " role."
            </p>
            <section class="card" aria-labelledby="admin-heading">
                <h2 id="admin-heading">"Administration"</h2>
                <p>"Put what only administrators may see or do here."</p>
            </section>
        }
        .into_any(),
    }
}
