//! The plain HTTP routes of the sign-in flow: the ones the provider and old
//! links reach directly, outside the app's router.

use app::auth::flow::{self, CallbackParams, LoginTransaction};
use app::auth::{session, AuthError};
use app::pages::standalone;
use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, PrivateCookieJar, SameSite};
use time::Duration;
use tower_sessions::Session;

use crate::AppState;

/// The login transaction cookie, readable only by `/callback`.
const LOGIN_COOKIE_PATH: &str = "/callback";
/// Enough time to type a password, not enough to linger.
const LOGIN_COOKIE_LIFETIME: Duration = Duration::minutes(10);

/// `GET /login[?return_to=/path]`: starts a sign-in at the provider.
pub async fn login(
    State(state): State<AppState>,
    jar: PrivateCookieJar,
    RawQuery(query): RawQuery,
) -> Response {
    let return_to = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "return_to")
        .map(|(_, value)| value.into_owned());
    match flow::begin_login(&state.auth, return_to.as_deref()) {
        Ok((provider_url, transaction)) => {
            let value = serde_json::to_string(&transaction).unwrap_or_default();
            let jar = jar.add(login_cookie(&state, value));
            (
                [(CACHE_CONTROL, "no-store")],
                jar,
                Redirect::to(provider_url.as_str()),
            )
                .into_response()
        }
        Err(error) => problem(&state, "login", error),
    }
}

/// `GET /callback?code=…&state=…`: the provider sends the browser back here.
pub async fn callback(
    State(state): State<AppState>,
    jar: PrivateCookieJar,
    session: Session,
    RawQuery(query): RawQuery,
) -> Response {
    let params = CallbackParams::parse(query.as_deref());
    let transaction = jar
        .get(login_cookie_name(&state))
        .and_then(|cookie| serde_json::from_str::<LoginTransaction>(cookie.value()).ok());
    // One use only: whatever happens next, this login transaction is spent.
    // Removed with the attributes it was set with: browsers ignore a removal of
    // a `__Secure-` cookie that lacks `Secure`.
    let jar = jar.remove(login_cookie(&state, String::new()));

    let result = async {
        let login = flow::finish_login(&state.auth, params, transaction).await?;
        session::begin(&session, &login.session).await?;
        Ok::<_, AuthError>(login.return_to)
    }
    .await;

    // The callback URL carries the code and state: keep it out of any Referer.
    let headers = [
        (CACHE_CONTROL, "no-store"),
        (REFERRER_POLICY, "no-referrer"),
        (CONTENT_SECURITY_POLICY, app::csp::STANDALONE_PAGE),
    ];
    match result {
        Ok(return_to) => {
            tracing::info!(step = "callback", "user signed in");
            (
                headers,
                jar,
                Html(standalone::signed_in_hop(&state.stylesheet(), &return_to)),
            )
                .into_response()
        }
        Err(error) => (headers, jar, problem(&state, "callback", error)).into_response(),
    }
}

/// The friendly error page, with the error's status code and one log event.
pub fn problem(state: &AppState, step: &'static str, error: AuthError) -> Response {
    error.log(step);
    (
        error.status(),
        [
            (CACHE_CONTROL, "no-store"),
            (CONTENT_SECURITY_POLICY, app::csp::STANDALONE_PAGE),
        ],
        Html(standalone::problem(
            &state.stylesheet(),
            error.user_message(),
        )),
    )
        .into_response()
}

fn login_cookie_name(state: &AppState) -> &'static str {
    // `__Host-` would need `Path=/`; `__Secure-` still guarantees https.
    if state.auth.settings().secure_cookies() {
        "__Secure-login"
    } else {
        "login"
    }
}

/// `SameSite=Lax` so it comes back with the provider's top-level redirect;
/// encrypted with `APP_SECRET_KEY` so the browser can neither read nor forge it.
fn login_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((login_cookie_name(state), value))
        .path(LOGIN_COOKIE_PATH)
        .http_only(true)
        .secure(state.auth.settings().secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(LOGIN_COOKIE_LIFETIME)
        .build()
}
