//! Step-up, for pages that need a recent sign-in (Security): the whole
//! policy. What counts as recent (`STEP_UP_MAX_AGE` since the provider's
//! `auth_time`, measured with the system's clock, as the provider's own clock
//! runs); what a user who is not recent is sent to do (`/reauthenticate`:
//! sign in again at the provider, `prompt=login` with `max_age` and
//! `id_token_hint`); and what the callback accepts as the proof.

use time::OffsetDateTime;

use super::authorize::Intent;
use super::error::StepUpProblem;
use super::session::UserSession;
use super::{AuthError, AuthSettings};

/// How far the provider's clock may be behind ours when it says when the
/// user signed in.
const CLOCK_LEEWAY_SECONDS: i64 = 60;

/// Where a signed-in user stands for a page that needs a recent sign-in.
pub(crate) enum StepUp {
    /// Signed in `at`, which counts as recent `until`.
    Recent {
        at: OffsetDateTime,
        until: Option<OffsetDateTime>,
    },
    /// Must sign in again at the provider (`/reauthenticate`).
    Needed,
    /// Has nothing to sign in again with (an anonymous user): asking would
    /// be a dead end.
    Impossible,
}

impl StepUp {
    pub(crate) fn of(user: &UserSession, settings: &AuthSettings) -> Self {
        let max_age = settings.step_up_max_age;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        match user.signed_in_at() {
            Some(at) if is_recent(at.unix_timestamp(), max_age, now) => StepUp::Recent {
                at,
                until: time::Duration::try_from(max_age)
                    .ok()
                    .and_then(|age| at.checked_add(age)),
            },
            _ if !user.claims().can_reauthenticate => StepUp::Impossible,
            _ => StepUp::Needed,
        }
    }
}

/// What `/reauthenticate` asks the provider for: this user, signing in again
/// whatever the provider's session says.
pub(crate) fn intent(user: &UserSession, settings: &AuthSettings) -> Result<Intent, AuthError> {
    if !user.claims().can_reauthenticate {
        return Err(AuthError::CannotReauthenticate);
    }
    Ok(Intent::Reauthenticate {
        id_token_hint: Box::new(user.id_token.clone()),
        max_age: settings.step_up_max_age,
    })
}

/// The callback's check of a step-up that began at `started_at` (see [`check`]).
pub(crate) fn confirmed(
    claims: &serde_json::Value,
    subject: &str,
    started_at: i64,
    settings: &AuthSettings,
) -> Result<(), StepUpProblem> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    check(claims, subject, started_at, settings.step_up_max_age, now)
}

/// A step-up counts only if the same user signed in again after it began,
/// recently enough for the page that asked (the same test as its gate, so
/// a sign-in this accepts never sends the browser round again).
fn check(
    claims: &serde_json::Value,
    subject: &str,
    started_at: i64,
    max_age: std::time::Duration,
    now: i64,
) -> Result<(), StepUpProblem> {
    if claims.get("sub").and_then(serde_json::Value::as_str) != Some(subject) {
        return Err(StepUpProblem::OtherUser);
    }
    match claims.get("auth_time").and_then(serde_json::Value::as_i64) {
        Some(auth_time)
            if auth_time >= started_at - CLOCK_LEEWAY_SECONDS
                && is_recent(auth_time, max_age, now) =>
        {
            Ok(())
        }
        _ => Err(StepUpProblem::NotFresh),
    }
}

/// A sign-in at `auth_time` (Unix seconds) is less than `max_age` old.
fn is_recent(auth_time: i64, max_age: std::time::Duration, now: i64) -> bool {
    let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    now.saturating_sub(auth_time) < max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_up_needs_the_same_user_signed_in_since_it_began() {
        let began = 1_800_000_000;
        let claims = |sub: &str, auth_time: serde_json::Value| serde_json::json!({"sub": sub, "auth_time": auth_time});
        let max_age = std::time::Duration::from_secs(300);
        let check_step_up = |claims: &serde_json::Value, subject: &str, began: i64| {
            super::check(claims, subject, began, max_age, began + 5)
        };
        assert_eq!(
            check_step_up(&claims("u1", began.into()), "u1", began),
            Ok(())
        );
        assert_eq!(
            check_step_up(&claims("u1", (began + 30).into()), "u1", began),
            Ok(())
        );
        // The provider's clock may be a little behind ours.
        assert_eq!(
            check_step_up(&claims("u1", (began - 60).into()), "u1", began),
            Ok(())
        );
        for (claims, problem) in [
            (claims("u2", began.into()), StepUpProblem::OtherUser),
            (
                serde_json::json!({"auth_time": began}),
                StepUpProblem::OtherUser,
            ),
            (claims("u1", (began - 61).into()), StepUpProblem::NotFresh),
            (claims("u1", (began - 3600).into()), StepUpProblem::NotFresh),
            (
                claims("u1", serde_json::Value::Null),
                StepUpProblem::NotFresh,
            ),
            (claims("u1", "now".into()), StepUpProblem::NotFresh),
            (serde_json::json!({"sub": "u1"}), StepUpProblem::NotFresh),
        ] {
            assert_eq!(
                check_step_up(&claims, "u1", began),
                Err(problem),
                "{claims}"
            );
        }
        // Fresh at the callback but already too old for the page (a short
        // max age, a slow return): refused here rather than sent round again.
        assert_eq!(
            super::check(
                &claims("u1", began.into()),
                "u1",
                began,
                max_age,
                began + 300
            ),
            Err(StepUpProblem::NotFresh)
        );
        assert!(is_recent(began, max_age, began + 299));
        assert!(
            is_recent(began, std::time::Duration::MAX, began + 10),
            "no overflow"
        );
    }
}
