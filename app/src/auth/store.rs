//! Where sessions live: tower-sessions' records in SQLite, with one rule an
//! upsert would break: **a session that was ended stays ended**.
//!
//! Only `create` adds a row, under a fresh id. `save` updates a row that is
//! still there and does nothing otherwise, so a request or a refresh task that
//! finishes after logout (or after the session expired) cannot write the
//! session back.

use std::path::Path;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

/// The SQLite session store.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(#[from] sqlx::Error);

impl Store {
    /// Opens (and creates, the first time) the store at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await?;
        sqlx::query(
            "create table if not exists sessions (
                id text primary key not null,
                record text not null,
                expires_at integer not null
            )",
        )
        .execute(&pool)
        .await?;
        Ok(Self { pool })
    }

    /// Writes `record` if its session still exists. True if it did.
    pub(crate) async fn update_if_present(&self, record: &Record) -> session_store::Result<bool> {
        let updated = sqlx::query("update sessions set record = ?, expires_at = ? where id = ?")
            .bind(encode(record)?)
            .bind(record.expiry_date.unix_timestamp())
            .bind(record.id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(updated.rows_affected() > 0)
    }

    /// Deletes expired sessions every `period`, for as long as it is polled.
    pub async fn remove_expired_every(self, period: std::time::Duration) {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            if let Err(error) = self.delete_expired().await {
                tracing::warn!(%error, "expired sessions could not be removed");
            }
        }
    }

    /// Ends a session by id, whoever holds it.
    pub(crate) async fn end(&self, id: &Id) -> session_store::Result<()> {
        self.delete(id).await
    }
}

fn encode(record: &Record) -> session_store::Result<String> {
    serde_json::to_string(record)
        .map_err(|_| session_store::Error::Encode("the session record could not be encoded".into()))
}

/// The decoder's message may quote the record's content: it is not kept.
fn decode(text: &str) -> session_store::Result<Record> {
    serde_json::from_str(text)
        .map_err(|_| session_store::Error::Decode("the stored session record is unreadable".into()))
}

fn backend(error: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

#[async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let inserted = sqlx::query(
                "insert into sessions (id, record, expires_at) values (?, ?, ?)
                 on conflict (id) do nothing",
            )
            .bind(record.id.to_string())
            .bind(encode(record)?)
            .bind(record.expiry_date.unix_timestamp())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() > 0 {
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
        let row: Option<(String,)> =
            sqlx::query_as("select record from sessions where id = ? and expires_at > ?")
                .bind(id.to_string())
                .bind(OffsetDateTime::now_utc().unix_timestamp())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        row.map(|(text,)| decode(&text)).transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("delete from sessions where id = ?")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for Store {
    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("delete from sessions where expires_at <= ?")
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("sessions.db"))
            .await
            .expect("store");
        (store, dir)
    }

    fn record(value: &str) -> Record {
        Record {
            id: Id::default(),
            data: HashMap::from([("k".to_owned(), serde_json::json!(value))]),
            expiry_date: OffsetDateTime::now_utc() + time::Duration::hours(1),
        }
    }

    #[tokio::test]
    async fn a_save_after_delete_does_not_bring_the_session_back() {
        let (store, _dir) = store().await;
        let mut record = record("one");
        store.create(&mut record).await.expect("create");
        assert!(store.load(&record.id).await.expect("load").is_some());

        store.delete(&record.id).await.expect("delete");
        store.save(&record).await.expect("save is not an error");
        assert!(store.load(&record.id).await.expect("load").is_none());
        assert!(!store.update_if_present(&record).await.expect("update"));
    }

    #[tokio::test]
    async fn create_never_overwrites_and_save_updates() {
        let (store, _dir) = store().await;
        let mut first = record("first");
        store.create(&mut first).await.expect("create");
        let mut clash = record("clash");
        clash.id = first.id;
        store.create(&mut clash).await.expect("create");
        assert_ne!(clash.id, first.id, "a colliding id is drawn again");

        first.data.insert("k".into(), serde_json::json!("changed"));
        store.save(&first).await.expect("save");
        let loaded = store.load(&first.id).await.expect("load").expect("present");
        assert_eq!(loaded.data["k"], "changed");
    }

    #[tokio::test]
    async fn expired_sessions_are_not_loaded_and_are_deleted() {
        let (store, _dir) = store().await;
        let mut old = record("old");
        old.expiry_date = OffsetDateTime::now_utc() - time::Duration::seconds(1);
        store.create(&mut old).await.expect("create");
        assert!(store.load(&old.id).await.expect("load").is_none());
        store.delete_expired().await.expect("delete expired");
        assert!(!store.update_if_present(&old).await.expect("update"));
    }

    #[tokio::test]
    async fn an_unreadable_record_is_reported_without_its_content() {
        let (store, _dir) = store().await;
        let id = Id::default();
        sqlx::query("insert into sessions (id, record, expires_at) values (?, ?, ?)")
            .bind(id.to_string())
            .bind(r#"{"data": "SECRET-VALUE-IN-A-BROKEN-RECORD"}"#)
            .bind(i64::MAX)
            .execute(&store.pool)
            .await
            .expect("insert");
        let error = store.load(&id).await.expect_err("unreadable");
        assert!(!error.to_string().contains("SECRET"), "{error}");
    }
}
