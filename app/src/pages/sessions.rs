use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

use crate::api::{end_other_sessions, end_session, load_sessions, EndOtherSessions, EndSession};
use crate::components::{
    page_data, Loading, LocalTime, PageFailure, PageHeading, PageReloads, SharedViewer,
    SignInPrompt,
};
use crate::model::{ApiError, Page, SessionEntry, SessionList};
use crate::paths;

/// `/sessions`: where the user is signed in to this app, and signing out
/// the other browsers. Every action is a form: without JavaScript the
/// browser posts it and the server sends it back here; with JavaScript the
/// page asks for its data again in place.
#[component]
pub fn SessionsPage() -> impl IntoView {
    let viewer = SharedViewer::get();
    let reloads = PageReloads::get();
    let data = page_data(load_sessions);
    let failure = RwSignal::new(None::<ApiError>);
    let done = Callback::new(move |result: Result<(), ApiError>| {
        if let Err(error) = &result {
            viewer.learn(Err(error));
        }
        failure.set(result.err());
        if let Some(reloads) = reloads {
            reloads.bump();
        }
    });
    let page = move || match data.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Ok(Page { content, .. })) => listed(content, done).into_any(),
        Some(Err(ApiError::SignedOut | ApiError::SessionEnded)) => view! {
            <SignInPrompt
                heading="Your sessions"
                why="Please sign in to see where you are signed in."
                back_to=paths::SESSIONS
            />
        }
        .into_any(),
        Some(Err(error)) => view! { <PageFailure heading="Your sessions" error/> }.into_any(),
    };
    view! {
        <Title text="Your sessions"/>
        {page}
        {move || {
            failure
                .get()
                .map(|error| view! { <p class="notice error" role="alert">{error.to_string()}</p> })
        }}
    }
}

fn listed(list: SessionList, done: Callback<Result<(), ApiError>>) -> impl IntoView {
    let others = list
        .sessions
        .iter()
        .filter(|entry| !entry.this_browser)
        .count()
        + list.not_shown;
    let not_shown = (list.not_shown > 0).then(|| {
        view! {
            <p class="muted">
                {format!(
                    "{} more, less recently active, not shown. Signing out everywhere else ends them too.",
                    list.not_shown,
                )}
            </p>
        }
    });
    view! {
        <PageHeading>"Your sessions"</PageHeading>
        <p class="lead">
            "Where you are signed in to this app. Signing out a session ends it everywhere: "
            "that browser is asked to sign in again."
        </p>
        <ul class="session-list">
            {list.sessions.into_iter().map(|entry| entry_view(entry, done)).collect_view()}
        </ul>
        {not_shown}
        {(others > 0).then(|| view! { <SignOutOthers done/> })}
    }
}

fn entry_view(entry: SessionEntry, done: Callback<Result<(), ApiError>>) -> impl IntoView {
    let SessionEntry {
        handle,
        device,
        signed_in_at,
        last_active_at,
        ends_at,
        this_browser,
    } = entry;
    let action = (!this_browser).then(|| {
        let device = device.clone();
        view! { <SignOutOne handle device done/> }
    });
    view! {
        <li class="card">
            <h2>
                {device}
                {this_browser.then(|| view! { <span class="badge ok">"This browser"</span> })}
            </h2>
            <dl class="facts">
                {signed_in_at.map(|at| view! { <dt>"Signed in"</dt><dd><LocalTime at/></dd> })}
                <dt>"Last active"</dt>
                <dd><LocalTime at=last_active_at/></dd>
                <dt>"Ends"</dt>
                <dd><LocalTime at=ends_at/></dd>
            </dl>
            {action}
        </li>
    }
}

/// "Sign out" for one other session.
#[component]
fn SignOutOne(
    handle: String,
    device: String,
    done: Callback<Result<(), ApiError>>,
) -> impl IntoView {
    let pending = RwSignal::new(false);
    let submit = {
        let handle = handle.clone();
        move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            pending.set(true);
            let handle = handle.clone();
            leptos::task::spawn_local(async move {
                done.run(end_session(handle).await);
                pending.set(false);
            });
        }
    };
    view! {
        <form class="actions" method="post" action=EndSession::PATH on:submit=submit>
            <input type="hidden" name="handle" value=handle/>
            <button type="submit" class="button small secondary" disabled=move || pending.get()>
                "Sign out"
                <span class="visually-hidden">{format!(" {device}")}</span>
            </button>
        </form>
    }
}

/// "Sign out everywhere else": every session but this browser's.
#[component]
fn SignOutOthers(done: Callback<Result<(), ApiError>>) -> impl IntoView {
    let pending = RwSignal::new(false);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        pending.set(true);
        leptos::task::spawn_local(async move {
            done.run(end_other_sessions().await.map(|_| ()));
            pending.set(false);
        });
    };
    view! {
        <form class="actions" method="post" action=EndOtherSessions::PATH on:submit=submit>
            <button type="submit" class="button" disabled=move || pending.get()>
                "Sign out everywhere else"
            </button>
        </form>
    }
}
