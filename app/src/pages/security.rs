use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::load_security;
use crate::components::{page_data, Loading, LocalTime, PageFailure, PageHeading, SignInPrompt};
use crate::model::{ApiError, Page, SecurityCheck};
use crate::paths;

/// `/security`: a page that needs a recent sign-in (step-up), as the server
/// decides on every visit (see `api::load_security`). An older one is sent
/// through the provider again.
#[component]
pub fn SecurityPage() -> impl IntoView {
    let data = page_data(load_security);
    let page = move || {
        match data.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Ok(Page { content, .. })) => security(content).into_any(),
        Some(Err(ApiError::SignedOut | ApiError::SessionEnded)) => view! {
            <SignInPrompt heading="Security" why="Please sign in to see your security settings." back_to=paths::SECURITY/>
        }
        .into_any(),
        Some(Err(error)) => view! { <PageFailure heading="Security" error/> }.into_any(),
    }
    };
    view! {
        <Title text="Security"/>
        {page}
    }
}

fn security(check: SecurityCheck) -> impl IntoView {
    match check {
        SecurityCheck::Confirmed {
            signed_in_at,
            recent_until,
            methods,
        } => view! {
            <PageHeading>"Security"</PageHeading>
            <p class="notice" role="status">
                "You confirmed it's you at " <LocalTime at=signed_in_at/>
                {(!methods.is_empty()).then(|| format!(" ({})", methods.join(", ")))}
                ". This page stays open until " <LocalTime at=recent_until/>
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
        .into_any(),
        SecurityCheck::Reauthenticate { to } => {
            leave_for(&to);
            view! {
                <PageHeading>"Confirm it's you"</PageHeading>
                <p>"This page needs a recent sign-in. You are being sent to sign in again."</p>
                <div class="actions">
                    <a class="button" href=to rel="external">"Continue"</a>
                </div>
            }
            .into_any()
        }
        SecurityCheck::CannotReauthenticate => view! {
            <PageHeading>"Security"</PageHeading>
            <p class="notice error" role="alert">
                "This page needs you to sign in again, and your account has no password "
                "or other sign-in method to do that with (an anonymous account, for one)."
            </p>
            <p>"Add an email, a phone number or a password in your account settings, then come back."</p>
            <div class="actions">
                <a
                    class="button"
                    href=paths::ACCOUNT_SETTINGS
                    target="_blank"
                    rel="noopener external"
                >
                    "Account settings"
                    <span class="visually-hidden">" (opens in a new tab)"</span>
                </a>
                <A href=paths::HOME attr:class="button secondary">"Home"</A>
            </div>
        }
        .into_any(),
    }
}

/// Sends the browser to `to`, a route of the server outside the app: a
/// redirect while the server renders the page, a full navigation in the
/// browser (the app's router would look for `to` among its own pages).
fn leave_for(to: &str) {
    #[cfg(feature = "ssr")]
    leptos_axum::redirect(to);
    #[cfg(feature = "hydrate")]
    {
        let to = to.to_owned();
        Effect::new(move |_| {
            if let Err(error) = window().location().assign(&to) {
                leptos::logging::error!("could not leave for {to}: {error:?}");
            }
        });
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    let _ = to;
}
