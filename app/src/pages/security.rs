use leptos::prelude::*;

use crate::api::security_gate;
use crate::model::SecurityCheck;
use crate::paths;

/// `/security`: a page that needs a recent sign-in (step-up). An older one
/// is sent through the provider again; see `api::security_gate`.
#[component]
pub fn SecurityPage() -> impl IntoView {
    let check = Resource::new(|| (), |_| security_gate());
    view! {
        <Suspense fallback=|| view! { <p class="muted" role="status">"Checking your sign-in…"</p> }>
            {move || Suspend::new(async move {
                match check.await {
                    Ok(check) => view! { <Security check/> }.into_any(),
                    Err(error) => view! {
                        <h1>"Security"</h1>
                        <p class="notice error" role="alert">{error.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Security(check: SecurityCheck) -> impl IntoView {
    match check {
        SecurityCheck::SignedOut => view! {
            <h1>"Security"</h1>
            <p>"Please sign in to see your security settings."</p>
            <div class="actions">
                <a class="button" href=format!("{}?return_to={}", paths::LOGIN, paths::SECURITY)>"Login"</a>
            </div>
        }
        .into_any(),
        SecurityCheck::Confirmed {
            signed_in_at,
            recent_until,
            methods,
        } => {
            let (at, until) = (signed_in_at.clone(), recent_until.clone());
            view! {
            <h1>"Security"</h1>
            <p class="notice" role="status">
                "You confirmed it's you at " <time datetime=signed_in_at>{at}</time>
                {(!methods.is_empty()).then(|| format!(" ({})", methods.join(", ")))}
                ". This page stays open until " <time datetime=recent_until>{until}</time>
                "; after that you will be asked to sign in again."
            </p>
            <section class="card" aria-labelledby="sensitive-heading">
                <h2 id="sensitive-heading">"Sensitive settings"</h2>
                <p>
                    "Put what needs a fresh sign-in here: changing a payout account, "
                    "deleting data, showing recovery codes."
                </p>
            </section>
            }
            .into_any()
        }
        SecurityCheck::Reauthenticating { to } => view! {
            <h1>"Confirm it's you"</h1>
            <p>"This page needs a recent sign-in. You are being sent to sign in again."</p>
            <div class="actions">
                <a class="button" href=to>"Continue"</a>
            </div>
        }
        .into_any(),
        SecurityCheck::CannotReauthenticate => view! {
            <h1>"Security"</h1>
            <p class="notice error" role="alert">
                "This page needs you to sign in again, and your account has no password "
                "or other sign-in method to do that with (an anonymous account, for one)."
            </p>
            <p>"Add an email, a phone number or a password in your account settings, then come back."</p>
            <div class="actions">
                <a class="button" href=paths::ACCOUNT_SETTINGS target="_blank" rel="noopener">
                    "Account settings"
                    <span class="visually-hidden">" (opens in a new tab)"</span>
                </a>
                <a class="button secondary" href=paths::HOME>"Home"</a>
            </div>
        }
        .into_any(),
    }
}
