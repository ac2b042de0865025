//! Signed-in sessions: one [`UserSession`] per session, under the opaque id
//! that the browser's cookie carries.
//!
//! [`Sessions`] is the one door to them, for this request's session and for
//! any other: get, create, update, delete, and all of a user's or of a
//! provider session at once. It puts the [`SessionCache`] above the
//! [`Store`]: every write through it, tower-sessions' own included, makes
//! this instance forget what it remembered of the sessions it touched.

mod cache;
mod device;
mod record;
mod shown;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use tower_sessions::session::{Error as SessionError, Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, Session};

use super::store::Store;
use super::AuthError;
use cache::SessionCache;
use record::{ENDED_RECORD_KEPT, KEY};

pub(crate) use device::label as device_label;
pub(crate) use record::{deadlines, UserSession};

/// The sessions of this app, through this instance's cache.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    cache: Arc<SessionCache<UserSession>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sessions").field(&self.store).finish()
    }
}

impl Sessions {
    /// Sessions kept in `store`, remembered for `cache_ttl` after each read
    /// (at most a second; zero: not at all).
    pub(crate) fn new(store: Store, cache_ttl: Duration) -> Self {
        Self {
            store: store.indexed_by(record::index_of),
            cache: Arc::new(SessionCache::new(cache_ttl)),
        }
    }

    /// The store beneath, for its locks and one-time claims.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// This request's user, as read in the last moment on this instance or
    /// from the store now. For page views and API calls: what changes the
    /// session reads it with [`Self::get`] or changes it with
    /// [`Self::update`]. A record this version of the app cannot read
    /// counts as signed out rather than as an error.
    pub(crate) async fn get_cached(
        &self,
        session: &Session,
    ) -> Result<Option<Arc<UserSession>>, AuthError> {
        let Some(id) = session.id() else {
            return Ok(None);
        };
        let cached = self.cache.get(&id);
        self.store.metrics().cache_lookup(cached.is_some());
        if let Some(user) = cached {
            return Ok(Some(user));
        }
        // From the store itself: the request's own `Session` keeps the copy
        // it loaded first, which a write since then has made stale.
        let ticket = self.cache.ticket();
        if let Some(user) = self.get(&id).await? {
            let user = Arc::new(user);
            self.cache.remember(ticket, id, Arc::clone(&user));
            return Ok(Some(user));
        }
        // Gone, or unreadable: through the request's `Session`, which drops
        // the cookie of either.
        match session.get::<UserSession>(KEY).await {
            Ok(user) => Ok(user.map(Arc::new)),
            Err(
                SessionError::SerdeJson(_) | SessionError::Store(session_store::Error::Decode(_)),
            ) => {
                // Not the decoder's message: it may quote the record's content.
                tracing::warn!("unreadable session record; signing the user out");
                self.delete_current(session).await?;
                Ok(None)
            }
            Err(error) => Err(session_failure(error)),
        }
    }

    /// Starts a signed-in session under a new id, so an id planted in the
    /// browser before sign-in (session fixation) is worth nothing after it.
    ///
    /// The cookie is set once, here, and lives until the session's lifetime
    /// ends (and a day more, so the next visit can say it ended): activity
    /// moves the idle deadline in the store only, and [`lifecycle::current`]
    /// enforces it. A cookie that expired with the first idle deadline would
    /// sign an active user out, silently, a week after sign-in.
    ///
    /// [`lifecycle::current`]: super::lifecycle::current
    pub(crate) async fn create(
        &self,
        session: &Session,
        user: &UserSession,
    ) -> Result<(), AuthError> {
        session.cycle_id().await.map_err(session_failure)?;
        session.clear().await;
        session.set_expiry(Some(Expiry::AtDateTime(
            user.ends_at.saturating_add(ENDED_RECORD_KEPT),
        )));
        session.insert(KEY, user).await.map_err(session_failure)?;
        // Saved now rather than when the response is sent: the response must
        // not say "signed in" for a session the store does not have.
        session.save().await.map_err(session_failure)
    }

    /// Deletes this request's session from the store and expires its cookie.
    pub(crate) async fn delete_current(&self, session: &Session) -> Result<(), AuthError> {
        session.flush().await.map_err(session_failure)
    }

    /// The user of session `id` as stored now, if that session still exists.
    pub(crate) async fn get(&self, id: &Id) -> Result<Option<UserSession>, AuthError> {
        let record = match self.store.load(id).await {
            Ok(record) => record,
            // Sealed under another `APP_SECRET_KEY`, or by an older version:
            // no session anyone can use.
            Err(session_store::Error::Decode(_)) => None,
            Err(error) => return Err(store_error(error)),
        };
        Ok(record
            .and_then(|mut record| record.data.remove(KEY))
            .and_then(|value| UserSession::deserialize(value).ok()))
    }

    /// Changes the user of session `id`, if that session still exists, and
    /// returns what was stored. `None` when the session has ended meanwhile.
    ///
    /// A compare-and-swap: if another request or instance changed the
    /// session between this read and this write, the change is made again
    /// on top of theirs, never over it.
    pub(crate) async fn update(
        &self,
        id: &Id,
        change: impl Fn(&mut UserSession),
    ) -> Result<Option<UserSession>, AuthError> {
        for _ in 0..8 {
            let Some((mut record, previous)) = self.store.fetch(id).await.map_err(store_error)?
            else {
                return Ok(None);
            };
            let Some(mut user) = record
                .data
                .get(KEY)
                .and_then(|value| UserSession::deserialize(value).ok())
            else {
                return Ok(None);
            };
            let before = serde_json::to_value(&user).map_err(|_| AuthError::SessionStore)?;
            change(&mut user);
            let value = serde_json::to_value(&user).map_err(|_| AuthError::SessionStore)?;
            if value == before {
                // Someone else made the change already: nothing to write.
                return Ok(Some(user));
            }
            record.data.insert(KEY.to_owned(), value);
            record.expiry_date = user.deadline() + ENDED_RECORD_KEPT;
            let _forget = self.cache.forgetting(*id);
            if self
                .store
                .replace(&record, &previous)
                .await
                .map_err(store_error)?
            {
                return Ok(Some(user));
            }
        }
        tracing::warn!("a session changed too often to be updated");
        Err(AuthError::SessionStore)
    }

    /// Ends session `id`, whoever holds it, and returns its user as it was.
    pub(crate) async fn delete(&self, id: &Id) -> Result<Option<UserSession>, AuthError> {
        let user = self.get(id).await?;
        let _forget = self.cache.forgetting(*id);
        self.store.end(id).await.map_err(store_error)?;
        Ok(user)
    }

    /// The ids of every session of `subject`.
    pub(crate) async fn ids_of(&self, subject: &str) -> Result<Vec<Id>, AuthError> {
        self.store.sessions_of(subject).await.map_err(store_error)
    }

    /// Every session of `subject`, with its user, as stored now.
    pub(crate) async fn all_of(&self, subject: &str) -> Result<Vec<(Id, UserSession)>, AuthError> {
        let records = self.store.records_of(subject).await.map_err(store_error)?;
        Ok(records
            .into_iter()
            .filter_map(|mut record| {
                let user = UserSession::deserialize(record.data.remove(KEY)?).ok()?;
                Some((record.id, user))
            })
            .collect())
    }

    /// Ends every session of `subject`; returns how many there were.
    pub(crate) async fn delete_all_of(&self, subject: &str) -> Result<usize, AuthError> {
        let _forget = self.cache.forgetting_all();
        self.store.end_subject(subject).await.map_err(store_error)
    }

    /// Ends every session of one provider session (`sid`).
    pub(crate) async fn delete_all_of_sid(&self, sid: &str) -> Result<usize, AuthError> {
        let _forget = self.cache.forgetting_all();
        self.store.end_sid(sid).await.map_err(store_error)
    }

    /// Ends the sessions of `subject` that signed in at or before `at`, and
    /// of those only the ones of provider sessions `sids` when an event
    /// names them: an event that arrives late, or again, must not end a
    /// newer sign-in. Returns how many ended.
    pub(crate) async fn delete_signed_in_before(
        &self,
        subject: &str,
        sids: Option<&[String]>,
        at: OffsetDateTime,
    ) -> Result<usize, AuthError> {
        let mut ended = 0;
        for (id, user) in self.all_of(subject).await? {
            let sid = user.claims.get("sid").and_then(Value::as_str);
            let named =
                sids.is_none_or(|sids| sid.is_some_and(|sid| sids.iter().any(|s| s == sid)));
            if named && user.issued_at().is_none_or(|issued| issued <= at) {
                let _forget = self.cache.forgetting(id);
                self.store.end(&id).await.map_err(store_error)?;
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Marks the profile of every session of `subject` for reloading;
    /// returns how many sessions there were.
    pub(crate) async fn mark_profile_stale(&self, subject: &str) -> Result<usize, AuthError> {
        let mut marked = 0;
        for id in self.ids_of(subject).await? {
            if self
                .update(&id, UserSession::profile_changed)
                .await?
                .is_some()
            {
                marked += 1;
            }
        }
        Ok(marked)
    }

    /// Up to `limit` sessions whose deadline is at or before `now`.
    pub(crate) async fn due(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Id>, AuthError> {
        self.store.due(now, limit).await.map_err(store_error)
    }
}

/// What the session layer reads and writes through: the store, with this
/// instance's cache kept honest.
#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.store.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let _forget = self.cache.forgetting(record.id);
        self.store.save(record).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.store.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _forget = self.cache.forgetting(*id);
        self.store.delete(id).await
    }
}

fn session_failure(error: SessionError) -> AuthError {
    match error {
        SessionError::Store(error) => store_error(error),
        SessionError::SerdeJson(_) => {
            tracing::warn!("a session value could not be encoded");
            AuthError::SessionStore
        }
    }
}

/// A store failure as the flow reports it; its details go to the log here.
pub(crate) fn store_error(error: session_store::Error) -> AuthError {
    match error {
        // The backend's own words (a database error), never record content.
        session_store::Error::Backend(reason) => {
            tracing::warn!(%reason, "session store failure");
        }
        session_store::Error::Encode(_) | session_store::Error::Decode(_) => {
            tracing::warn!("session record could not be encoded or decoded");
        }
    }
    AuthError::SessionStore
}
