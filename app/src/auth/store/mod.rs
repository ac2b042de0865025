//! Where sessions live: tower-sessions' records in SQLite (one server) or
//! Redis (several servers behind a load balancer), with the same rules in
//! both:
//!
//! - **A session that was ended stays ended.** Only `create` adds a session,
//!   under a fresh id; `save` updates a session that is still there and does
//!   nothing otherwise, so a request or a refresh that finishes after logout
//!   (or expiry) cannot write the session back.
//! - **Every session of a user can be ended at once**, by subject or by the
//!   provider's session id (`sid`): the store indexes both.
//! - **Locks with an owner** (`lock`), shared by every instance: one refresh
//!   per session across servers, released or extended only by its holder.
//! - **One-time claims** (`claim`): each logout token and event used once.
//! - **A reader of the store learns nothing it could use** ([`seal`]):
//!   records are filed under a hash of the session id and sealed.

mod redis;
mod seal;
mod sqlite;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::metrics::Metrics;
use seal::Seal;

/// The session store the app was configured with.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    seal: Seal,
    metrics: Arc<Metrics>,
    /// Reads what a record is filed under: the layout of a record is its
    /// writer's, not the store's.
    index: fn(&Record) -> Index,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Store").field(&self.backend).finish()
    }
}

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Redis(redis::Redis),
}

/// The store could not be opened or reached at start-up.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Sqlite(#[from] ::sqlx::Error),
    #[error("{}", redis_reason(.0))]
    Redis(#[from] ::fred::error::Error),
}

/// Redis's error in a few words: "connection refused", "authentication
/// failed", rather than the client's debug output.
fn redis_reason(error: &::fred::error::Error) -> String {
    let details = error.details();
    if details.contains("Connection refused") || details.contains("code: 111") {
        "connection refused".to_owned()
    } else {
        format!("{:?}: {details}", error.kind())
    }
}

/// A lock taken with [`Store::lock`]: its key and its owner.
#[derive(Debug)]
pub(crate) struct Lock {
    key: String,
    owner: String,
}

/// What a record is filed under besides its id.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Index {
    pub subject: Option<String>,
    pub sid: Option<String>,
    /// When its session ends, unless activity moves it on: the sweep finds
    /// sessions by it.
    pub deadline: Option<OffsetDateTime>,
}

/// A deadline as the backends order it: Unix milliseconds.
fn millis(at: Option<OffsetDateTime>) -> Option<i64> {
    at.and_then(|at| i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok())
}

/// Runs `$body` with `$store` bound to whichever backend this is: both have
/// the same operations under the same names. Timed as `$operation`.
macro_rules! with_backend {
    ($self:expr, $operation:literal, $store:ident => $body:expr) => {{
        let started = std::time::Instant::now();
        let result = match &$self.backend {
            Backend::Sqlite($store) => $body,
            Backend::Redis($store) => $body,
        };
        $self
            .metrics
            .store_operation($operation, started, result.is_ok());
        result
    }};
}

impl Store {
    /// Opens (and creates, the first time) the SQLite store at `path`.
    pub async fn sqlite(path: &Path) -> Result<Self, StoreError> {
        Ok(Self::new(Backend::Sqlite(
            sqlite::Sqlite::open(path).await?,
        )))
    }

    /// Connects to Redis at `url` and checks that it answers.
    pub async fn redis(url: &str) -> Result<Self, StoreError> {
        Ok(Self::new(Backend::Redis(redis::Redis::connect(url).await?)))
    }

    fn new(backend: Backend) -> Self {
        Self {
            backend,
            seal: Seal::random(),
            metrics: Arc::default(),
            index: |_| Index::default(),
        }
    }

    /// The same store, filing each record under what `index` reads from it
    /// (until then: under its id alone).
    pub(crate) fn indexed_by(self, index: fn(&Record) -> Index) -> Self {
        Self { index, ..self }
    }

    /// What this store's operations are timed into.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The same store, timing its operations into `metrics`.
    pub(crate) fn measured_by(self, metrics: Arc<Metrics>) -> Self {
        Self { metrics, ..self }
    }

    /// The same store, sealing records with a key derived from `secret`
    /// (`APP_SECRET_KEY`): every instance that shares the store must share
    /// the secret, and a new secret leaves every stored session unreadable,
    /// so those users sign in again.
    pub fn sealed_with(self, secret: &[u8]) -> Self {
        Self {
            seal: Seal::derived_from(secret),
            ..self
        }
    }

    /// Deletes the session filed under `key`, and every index entry of it.
    async fn delete_key(&self, key: &str) -> session_store::Result<()> {
        let started = Instant::now();
        let deleted = match &self.backend {
            Backend::Sqlite(store) => store.delete(key).await,
            Backend::Redis(store) => {
                let index = match self.fetch_key(key).await {
                    Ok(Some((record, _))) => (self.index)(&record),
                    Ok(None) | Err(session_store::Error::Decode(_)) => Index::default(),
                    Err(error) => return Err(error),
                };
                store.delete(key, &index).await.map(|_| ())
            }
        };
        self.metrics
            .store_operation("delete", started, deleted.is_ok());
        deleted
    }

    /// What the store files session `id` under, for names of locks and
    /// claims about it: never the id itself, which is the cookie's value.
    pub(crate) fn key_of(id: &Id) -> String {
        Seal::key_of(id)
    }

    /// True if the store answers now.
    pub async fn is_reachable(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(store) => store.ping().await,
            Backend::Redis(store) => store.ping().await,
        }
    }

    /// Writes `record` if its session still exists. True if it did.
    pub(crate) async fn update_if_present(&self, record: &Record) -> session_store::Result<bool> {
        if record.expiry_date <= OffsetDateTime::now_utc() {
            return Ok(false);
        }
        let index = (self.index)(record);
        let sealed = self.seal.record(record)?;
        with_backend!(self, "update", store => store.update_if_present(&sealed, &index).await)
    }

    /// The record of session `id` and its stored form, for [`Self::replace`].
    pub(crate) async fn fetch(&self, id: &Id) -> session_store::Result<Option<(Record, String)>> {
        self.fetch_key(&Seal::key_of(id)).await
    }

    async fn fetch_key(&self, key: &str) -> session_store::Result<Option<(Record, String)>> {
        let stored = with_backend!(self, "fetch", store => store.fetch(key).await)?;
        let Some(text) = stored else {
            return Ok(None);
        };
        let record = self.seal.open_record(&text)?;
        Ok((record.expiry_date > OffsetDateTime::now_utc()).then_some((record, text)))
    }

    /// Writes `record` only if its session is still stored exactly as
    /// `previous` (compare and swap): a change made meanwhile by another
    /// request or instance is never overwritten with older data.
    pub(crate) async fn replace(
        &self,
        record: &Record,
        previous: &str,
    ) -> session_store::Result<bool> {
        if record.expiry_date <= OffsetDateTime::now_utc() {
            return Ok(false);
        }
        let index = (self.index)(record);
        let sealed = self.seal.record(record)?;
        with_backend!(self, "replace", store => store.replace(&sealed, &index, previous).await)
    }

    /// Ends a session by id, whoever holds it.
    pub(crate) async fn end(&self, id: &Id) -> session_store::Result<()> {
        self.delete(id).await
    }

    /// Ends every session of a user; returns how many there were.
    pub(crate) async fn end_subject(&self, subject: &str) -> session_store::Result<usize> {
        match &self.backend {
            Backend::Sqlite(store) => store.end_where("subject", subject).await,
            Backend::Redis(store) => {
                let index = Index {
                    subject: Some(subject.to_owned()),
                    ..Index::default()
                };
                self.end_indexed(store, "subject", subject, &index).await
            }
        }
    }

    /// Ends every session in a Redis index set, taking each out of its other
    /// sets too: no set keeps the key of a session that ended.
    async fn end_indexed(
        &self,
        store: &redis::Redis,
        kind: &'static str,
        value: &str,
        this_set: &Index,
    ) -> session_store::Result<usize> {
        let mut ended = 0;
        for key in store.indexed(kind, value).await? {
            let index = match self.fetch_key(&key).await {
                Ok(Some((record, _))) => (self.index)(&record),
                // Gone, or unreadable: out of this set at least.
                Ok(None) | Err(session_store::Error::Decode(_)) => Index {
                    subject: this_set.subject.clone(),
                    sid: this_set.sid.clone(),
                    deadline: None,
                },
                Err(error) => return Err(error),
            };
            if store.delete(&key, &index).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// The sessions of a user. The store files them under hashes: each
    /// record, opened, says its id.
    pub(crate) async fn sessions_of(&self, subject: &str) -> session_store::Result<Vec<Id>> {
        let records = self.records_of(subject).await?;
        Ok(records.into_iter().map(|record| record.id).collect())
    }

    /// The records of a user's sessions.
    pub(crate) async fn records_of(&self, subject: &str) -> session_store::Result<Vec<Record>> {
        let started = Instant::now();
        let keys = match &self.backend {
            Backend::Sqlite(store) => store.keys_where_subject(subject).await,
            Backend::Redis(store) => store.indexed("subject", subject).await,
        };
        self.metrics
            .store_operation("by_subject", started, keys.is_ok());
        let keys = keys?;
        let mut records = Vec::with_capacity(keys.len());
        for key in keys {
            match self.fetch_key(&key).await {
                Ok(Some((record, _))) => records.push(record),
                // Gone, or unreadable: no session to act on.
                Ok(None) | Err(session_store::Error::Decode(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(records)
    }

    /// Up to `limit` sessions whose deadline is at or before `now`. Entries
    /// whose record is gone or unreadable leave the deadline index here.
    pub(crate) async fn due(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> session_store::Result<Vec<Id>> {
        let now = millis(Some(now)).unwrap_or(i64::MAX);
        let keys = with_backend!(self, "due", store => store.due(now, limit).await)?;
        let mut ids = Vec::with_capacity(keys.len());
        for key in keys {
            match self.fetch_key(&key).await {
                Ok(Some((record, _))) => ids.push(record.id),
                Ok(None) | Err(session_store::Error::Decode(_)) => self.delete_key(&key).await?,
                Err(error) => return Err(error),
            }
        }
        Ok(ids)
    }

    /// Ends every session of one provider session (`sid`).
    pub(crate) async fn end_sid(&self, sid: &str) -> session_store::Result<usize> {
        match &self.backend {
            Backend::Sqlite(store) => store.end_where("sid", sid).await,
            Backend::Redis(store) => {
                let index = Index {
                    sid: Some(sid.to_owned()),
                    ..Index::default()
                };
                self.end_indexed(store, "sid", sid, &index).await
            }
        }
    }

    /// Takes `key` for `ttl` if nobody holds it: true for the one caller, on
    /// any instance, that got it. A lock when released with [`Self::release`],
    /// a one-time claim when not.
    pub(crate) async fn claim(&self, key: &str, ttl: Duration) -> session_store::Result<bool> {
        with_backend!(self, "claim", store => store.claim(key, ttl).await)
    }

    /// Takes the lock `key` for `ttl` if nobody holds it, under an owner of
    /// its own: only that owner can extend or release it, and a holder that
    /// lost it (it expired and someone else took it) can tell.
    pub(crate) async fn lock(
        &self,
        key: &str,
        ttl: Duration,
    ) -> session_store::Result<Option<Lock>> {
        let lock = Lock {
            key: key.to_owned(),
            // 128 random bits, as a session id.
            owner: Id::default().to_string(),
        };
        let taken = with_backend!(self, "lock", store => store.lock(&lock, ttl).await)?;
        Ok(taken.then_some(lock))
    }

    /// Extends `lock` by `ttl` from now if it is still held: true if it was.
    pub(crate) async fn extend(&self, lock: &Lock, ttl: Duration) -> session_store::Result<bool> {
        with_backend!(self, "extend", store => store.extend(lock, ttl).await)
    }

    /// Releases `lock` if it is still held; someone else's is left alone.
    pub(crate) async fn unlock(&self, lock: &Lock) -> session_store::Result<()> {
        with_backend!(self, "unlock", store => store.unlock(lock).await)
    }

    /// True if someone holds `key` now.
    pub(crate) async fn is_claimed(&self, key: &str) -> session_store::Result<bool> {
        with_backend!(self, "is_claimed", store => store.is_claimed(key).await)
    }

    pub(crate) async fn release(&self, key: &str) -> session_store::Result<()> {
        with_backend!(self, "release", store => store.release(key).await)
    }

    /// Deletes expired sessions every `period`, for as long as it is polled.
    /// Redis expires keys by itself; SQLite needs this.
    pub async fn remove_expired_every(self, period: Duration) {
        let Backend::Sqlite(store) = self.backend else {
            return;
        };
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            if let Err(error) = store.delete_expired().await {
                tracing::warn!(%error, "expired sessions could not be removed");
            }
        }
    }
}

#[async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let index = (self.index)(record);
        loop {
            let sealed = self.seal.record(record)?;
            let created =
                with_backend!(self, "create", store => store.create(&sealed, &index).await)?;
            if created {
                return Ok(());
            }
            // 128 random bits collided: draw again rather than overwrite.
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        if !self.update_if_present(record).await? {
            tracing::debug!("not saving a session that has ended");
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        Ok(self.fetch(id).await?.map(|(record, _)| record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.delete_key(&Seal::key_of(id)).await
    }
}

fn backend(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

/// The same rules, checked against each store.
#[cfg(test)]
pub(crate) mod contract {
    use super::*;
    use std::collections::HashMap;

    /// A record filed under `subject` and `sid`, as [`index`] reads them.
    pub(crate) fn record(subject: &str, sid: &str) -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([(
                "filed_under".to_owned(),
                serde_json::json!({"subject": subject, "sid": sid}),
            )]),
            expiry_date: OffsetDateTime::now_utc() + time::Duration::hours(1),
        }
    }

    /// What the contract's records are filed under.
    pub(crate) fn index(record: &Record) -> Index {
        let field = |name: &str| {
            record
                .data
                .get("filed_under")?
                .get(name)?
                .as_str()
                .map(str::to_owned)
        };
        Index {
            subject: field("subject"),
            sid: field("sid"),
            deadline: None,
        }
    }

    pub async fn a_save_after_delete_does_not_bring_the_session_back(store: &Store) {
        let mut record = record("u1", "s1");
        store.create(&mut record).await.expect("create");
        assert!(store.load(&record.id).await.expect("load").is_some());
        store.delete(&record.id).await.expect("delete");
        store.save(&record).await.expect("save is not an error");
        assert!(store.load(&record.id).await.expect("load").is_none());
        assert!(!store.update_if_present(&record).await.expect("update"));
    }

    pub async fn create_never_overwrites_and_save_updates(store: &Store) {
        let mut first = record("u1", "s1");
        store.create(&mut first).await.expect("create");
        let mut clash = record("u2", "s2");
        clash.id = first.id;
        store.create(&mut clash).await.expect("create");
        assert_ne!(clash.id, first.id, "a colliding id is drawn again");
        first.data.insert("k".into(), serde_json::json!("changed"));
        store.save(&first).await.expect("save");
        let loaded = store.load(&first.id).await.expect("load").expect("present");
        assert_eq!(loaded.data["k"], "changed");
    }

    pub async fn a_replace_never_overwrites_a_newer_record(store: &Store) {
        let mut record = record("u1", "s1");
        store.create(&mut record).await.expect("create");
        let (mut mine, seen) = store
            .fetch(&record.id)
            .await
            .expect("fetch")
            .expect("present");
        let (mut theirs, _) = store
            .fetch(&record.id)
            .await
            .expect("fetch")
            .expect("present");
        theirs.data.insert("k".into(), serde_json::json!("theirs"));
        assert!(store.replace(&theirs, &seen).await.expect("replace"));
        mine.data.insert("k".into(), serde_json::json!("mine"));
        assert!(
            !store.replace(&mine, &seen).await.expect("replace"),
            "stale"
        );
        let loaded = store
            .load(&record.id)
            .await
            .expect("load")
            .expect("present");
        assert_eq!(loaded.data["k"], "theirs");
        store.delete(&record.id).await.expect("delete");
        assert!(
            !store.replace(&theirs, &seen).await.expect("replace"),
            "ended"
        );
        assert!(store.fetch(&record.id).await.expect("fetch").is_none());
    }

    pub async fn expired_sessions_are_not_loaded_or_updated(store: &Store) {
        let mut old = record("u1", "s1");
        store.create(&mut old).await.expect("create");
        old.expiry_date = OffsetDateTime::now_utc() - time::Duration::seconds(1);
        assert!(!store.update_if_present(&old).await.expect("update"));
    }

    pub async fn every_session_of_a_user_or_sid_ends_at_once(store: &Store) {
        let subject = format!("user-{}", Id::default());
        let mut a = record(&subject, "sid-a");
        let mut b = record(&subject, "sid-b");
        let mut other = record("someone-else", "sid-a-other");
        for record in [&mut a, &mut b, &mut other] {
            store.create(record).await.expect("create");
        }
        assert_eq!(store.end_subject(&subject).await.expect("end"), 2);
        assert!(store.load(&a.id).await.expect("load").is_none());
        assert!(store.load(&b.id).await.expect("load").is_none());
        assert!(store.load(&other.id).await.expect("load").is_some());
        assert_eq!(store.end_sid("sid-a-other").await.expect("end"), 1);
        assert!(store.load(&other.id).await.expect("load").is_none());
        assert_eq!(store.end_subject("nobody").await.expect("end"), 0);
    }

    /// Every rule above, in turn.
    pub async fn holds(store: &Store) {
        let store = &store.clone().indexed_by(index);
        assert!(store.is_reachable().await);
        a_save_after_delete_does_not_bring_the_session_back(store).await;
        create_never_overwrites_and_save_updates(store).await;
        expired_sessions_are_not_loaded_or_updated(store).await;
        a_replace_never_overwrites_a_newer_record(store).await;
        every_session_of_a_user_or_sid_ends_at_once(store).await;
        a_claim_is_had_once_until_released(store).await;
        a_lock_is_its_owners_alone(store).await;
    }

    pub async fn a_lock_is_its_owners_alone(store: &Store) {
        let key = format!("test-{}", Id::default());
        let ttl = Duration::from_secs(60);
        let first = store.lock(&key, ttl).await.expect("lock").expect("free");
        assert!(store.lock(&key, ttl).await.expect("lock").is_none(), "held");
        assert!(store.extend(&first, ttl).await.expect("extend"));
        store.unlock(&first).await.expect("unlock");
        let second = store
            .lock(&key, ttl)
            .await
            .expect("lock")
            .expect("released");
        assert!(
            !store.extend(&first, ttl).await.expect("extend"),
            "not its owner"
        );
        store.unlock(&first).await.expect("unlock");
        assert!(
            store.lock(&key, ttl).await.expect("lock").is_none(),
            "a former owner's release leaves the new owner's lock alone"
        );
        store.unlock(&second).await.expect("unlock");

        let short = store
            .lock(&key, Duration::from_millis(1))
            .await
            .expect("lock")
            .expect("free");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!store.extend(&short, ttl).await.expect("extend"), "expired");
        let taken_over = store.lock(&key, ttl).await.expect("lock");
        assert!(taken_over.is_some(), "an expired lock is free again");
    }

    pub async fn a_claim_is_had_once_until_released(store: &Store) {
        let key = format!("test-{}", Id::default());
        assert!(!store.is_claimed(&key).await.expect("lookup"));
        assert!(store
            .claim(&key, Duration::from_secs(60))
            .await
            .expect("claim"));
        assert!(store.is_claimed(&key).await.expect("lookup"));
        assert!(!store
            .claim(&key, Duration::from_secs(60))
            .await
            .expect("claim"));
        store.release(&key).await.expect("release");
        assert!(!store.is_claimed(&key).await.expect("lookup"));
        assert!(store
            .claim(&key, Duration::from_millis(1))
            .await
            .expect("claim"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            store
                .claim(&key, Duration::from_secs(60))
                .await
                .expect("claim"),
            "an expired claim is free again"
        );
    }
}
