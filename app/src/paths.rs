//! Every path the app serves or links to, named once.

/// The home page: "Welcome Guest" or the signed-in user.
pub const HOME: &str = "/";
/// Starts a sign-in at the provider (`?return_to=/path` to come back there).
pub const LOGIN: &str = "/login";
/// Starts a sign-up: the provider's sign-up page instead of its sign-in page.
pub const SIGNUP: &str = "/signup";
/// Asks the signed-in user to sign in again (`?return_to=/path`).
pub const REAUTHENTICATE: &str = "/reauthenticate";
/// Sends the user to the provider's account settings page; their profile is
/// fetched again when they come back.
pub const ACCOUNT_SETTINGS: &str = "/account-settings";
/// A page that needs a recent sign-in.
pub const SECURITY: &str = "/security";
/// The user's sessions on this app, and signing out the others.
pub const SESSIONS: &str = "/sessions";
/// A page for users with the admin role.
pub const ADMIN: &str = "/admin";
/// JSON: the provider's userinfo API, called on the user's behalf with the
/// access token the server holds.
pub const USERINFO_API: &str = "/api/userinfo";
/// Where the provider sends the browser back; registered at the provider.
pub const CALLBACK: &str = "/callback";
/// The page with the logout button (the sign-out itself is a POST).
pub const LOGOUT: &str = "/logout";
/// Authgear's signed webhooks (events that end sessions or change profiles).
pub const AUTHGEAR_WEBHOOK: &str = "/webhooks/authgear";
/// OpenID Connect Back-Channel Logout; registered at the provider.
pub const BACKCHANNEL_LOGOUT: &str = "/backchannel-logout";
/// The process is up: 200 even when the provider or the store is down.
pub const HEALTHZ: &str = "/healthz";
/// Ready for traffic: 200 only when the store answers and the provider is discovered.
pub const READYZ: &str = "/readyz";
/// Where server functions live. `server_fn`'s default, which the `#[server]`
/// functions in `api.rs` keep.
pub const API_PREFIX: &str = "/api";
/// The stylesheet cargo-leptos builds: `/{site-pkg-dir}/{name}.css` with
/// `site-pkg-dir` and `name` from `[[workspace.metadata.leptos]]`.
pub const STYLESHEET: &str = "/pkg/authgear-leptos.css";

/// A path as a router segment: `/logout` → `logout`.
pub fn segment(path: &'static str) -> &'static str {
    path.trim_start_matches('/')
}
