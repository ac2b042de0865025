//! The SQLite store: one file, for a single server (or several on one
//! machine sharing the file).

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use time::OffsetDateTime;
use tower_sessions::session_store;

use super::seal::Sealed;
use super::{backend, millis, Index, Lock};

#[derive(Clone, Debug)]
pub(super) struct Sqlite {
    pool: SqlitePool,
}

fn now_millis() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Creates the database file readable and writable by this user alone
/// (0600), or makes an existing one so: it holds every session. SQLite
/// gives its journal files the database file's mode.
fn own_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::info!(path = %path.display(), "the session database was readable by others; it is now its owner's alone");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// `ttl` after `now`, in milliseconds.
fn until(now: i64, ttl: Duration) -> i64 {
    now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

impl Sqlite {
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        own_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await?;
        for statement in [
            "create table if not exists sessions (
                id text primary key not null,
                record text not null,
                expires_at integer not null,
                subject text,
                sid text,
                deadline integer
            )",
            "create index if not exists sessions_subject on sessions (subject)",
            "create index if not exists sessions_sid on sessions (sid)",
            "create table if not exists claims (
                key text primary key not null,
                expires_at_ms integer not null
            )",
            "create table if not exists locks (
                key text primary key not null,
                owner text not null,
                expires_at_ms integer not null
            )",
            "create index if not exists sessions_deadline on sessions (deadline)",
        ] {
            if statement.contains("sessions_deadline") {
                // Files made before the sweep lack the column.
                let added = sqlx::query("alter table sessions add column deadline integer")
                    .execute(&pool)
                    .await;
                if let Err(error) = added {
                    if !error.to_string().contains("duplicate column") {
                        return Err(error);
                    }
                }
            }
            sqlx::query(statement).execute(&pool).await?;
        }
        Ok(Self { pool })
    }

    pub async fn ping(&self) -> bool {
        sqlx::query("select 1").execute(&self.pool).await.is_ok()
    }

    /// False if a record is already filed under the same key.
    pub async fn create(&self, record: &Sealed, index: &Index) -> session_store::Result<bool> {
        let inserted = sqlx::query(
            "insert into sessions (id, record, expires_at, subject, sid, deadline)
             values (?, ?, ?, ?, ?, ?)
             on conflict (id) do nothing",
        )
        .bind(&record.key)
        .bind(&record.text)
        .bind(record.expires_at.unix_timestamp())
        .bind(&index.subject)
        .bind(&index.sid)
        .bind(millis(index.deadline))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(inserted.rows_affected() > 0)
    }

    pub async fn update_if_present(
        &self,
        record: &Sealed,
        index: &Index,
    ) -> session_store::Result<bool> {
        let updated = sqlx::query(
            "update sessions set record = ?, expires_at = ?, subject = ?, sid = ?, deadline = ?
             where id = ?",
        )
        .bind(&record.text)
        .bind(record.expires_at.unix_timestamp())
        .bind(&index.subject)
        .bind(&index.sid)
        .bind(millis(index.deadline))
        .bind(&record.key)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(updated.rows_affected() > 0)
    }

    pub async fn fetch(&self, key: &str) -> session_store::Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("select record from sessions where id = ? and expires_at > ?")
                .bind(key)
                .bind(OffsetDateTime::now_utc().unix_timestamp())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(row.map(|(text,)| text))
    }

    pub async fn replace(
        &self,
        record: &Sealed,
        index: &Index,
        previous: &str,
    ) -> session_store::Result<bool> {
        let updated = sqlx::query(
            "update sessions set record = ?, expires_at = ?, subject = ?, sid = ?, deadline = ?
             where id = ? and record = ?",
        )
        .bind(&record.text)
        .bind(record.expires_at.unix_timestamp())
        .bind(&index.subject)
        .bind(&index.sid)
        .bind(millis(index.deadline))
        .bind(&record.key)
        .bind(previous)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(updated.rows_affected() > 0)
    }

    pub async fn delete(&self, key: &str) -> session_store::Result<()> {
        sqlx::query("delete from sessions where id = ?")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// `column` is `subject` or `sid`, never input.
    pub async fn end_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> session_store::Result<usize> {
        let statement = match column {
            "subject" => "delete from sessions where subject = ?",
            _ => "delete from sessions where sid = ?",
        };
        let deleted = sqlx::query(statement)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(usize::try_from(deleted.rows_affected()).unwrap_or(usize::MAX))
    }

    /// Keys of up to `limit` sessions whose deadline is at or before `now`
    /// (Unix milliseconds), by the deadline index.
    pub async fn due(&self, now: i64, limit: usize) -> session_store::Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("select id from sessions where deadline <= ? order by deadline limit ?")
                .bind(now)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        Ok(rows.into_iter().map(|(key,)| key).collect())
    }

    pub async fn keys_where_subject(&self, subject: &str) -> session_store::Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as("select id from sessions where subject = ?")
            .bind(subject)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    pub async fn claim(&self, key: &str, ttl: Duration) -> session_store::Result<bool> {
        let now = now_millis();
        let until = until(now, ttl);
        let taken = sqlx::query(
            "insert into claims (key, expires_at_ms) values (?, ?)
             on conflict (key) do update set expires_at_ms = excluded.expires_at_ms
             where claims.expires_at_ms <= ?",
        )
        .bind(key)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(taken.rows_affected() > 0)
    }

    pub async fn lock(&self, lock: &Lock, ttl: Duration) -> session_store::Result<bool> {
        let now = now_millis();
        let taken = sqlx::query(
            "insert into locks (key, owner, expires_at_ms) values (?, ?, ?)
             on conflict (key) do update
             set owner = excluded.owner, expires_at_ms = excluded.expires_at_ms
             where locks.expires_at_ms <= ?",
        )
        .bind(&lock.key)
        .bind(&lock.owner)
        .bind(until(now, ttl))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(taken.rows_affected() > 0)
    }

    pub async fn extend(&self, lock: &Lock, ttl: Duration) -> session_store::Result<bool> {
        let now = now_millis();
        let extended = sqlx::query(
            "update locks set expires_at_ms = ?
             where key = ? and owner = ? and expires_at_ms > ?",
        )
        .bind(until(now, ttl))
        .bind(&lock.key)
        .bind(&lock.owner)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(extended.rows_affected() > 0)
    }

    pub async fn unlock(&self, lock: &Lock) -> session_store::Result<()> {
        sqlx::query("delete from locks where key = ? and owner = ?")
            .bind(&lock.key)
            .bind(&lock.owner)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub async fn is_claimed(&self, key: &str) -> session_store::Result<bool> {
        let held: Option<i64> =
            sqlx::query_scalar("select 1 from claims where key = ? and expires_at_ms > ?")
                .bind(key)
                .bind(now_millis())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(held.is_some())
    }

    pub async fn release(&self, key: &str) -> session_store::Result<()> {
        sqlx::query("delete from claims where key = ?")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("delete from sessions where expires_at <= ?")
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        for table in ["claims", "locks"] {
            sqlx::query(&format!("delete from {table} where expires_at_ms <= ?"))
                .bind(now_millis())
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{contract, Store};
    use tower_sessions::session::Id;
    use tower_sessions::SessionStore;

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::sqlite(&dir.path().join("sessions.db"))
            .await
            .expect("store");
        (store, dir)
    }

    #[tokio::test]
    async fn keeps_the_store_contract() {
        let (store, _dir) = store().await;
        contract::holds(&store).await;
    }

    #[tokio::test]
    async fn the_database_is_its_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let (_store, dir) = store().await;
        let path = dir.path().join("sessions.db");
        let mode = |path: &std::path::Path| {
            std::fs::metadata(path).expect("file").permissions().mode() & 0o777
        };
        assert_eq!(mode(&path), 0o600, "created so");

        let older = dir.path().join("older.db");
        std::fs::write(&older, b"").expect("file");
        std::fs::set_permissions(&older, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        Store::sqlite(&older).await.expect("store");
        assert_eq!(mode(&older), 0o600, "made so");
    }

    #[tokio::test]
    async fn an_unreadable_record_is_reported_without_its_content() {
        let (store, _dir) = store().await;
        let super::super::Backend::Sqlite(sqlite) = &store.backend else {
            unreachable!("a SQLite store");
        };
        let id = Id::default();
        sqlx::query("insert into sessions (id, record, expires_at) values (?, ?, ?)")
            .bind(Store::key_of(&id))
            .bind(r#"{"data": "SECRET-VALUE-IN-A-BROKEN-RECORD"}"#)
            .bind(i64::MAX)
            .execute(&sqlite.pool)
            .await
            .expect("insert");
        let error = store.load(&id).await.expect_err("unreadable");
        assert!(!error.to_string().contains("SECRET"), "{error}");
    }

    #[tokio::test]
    async fn a_reader_of_the_file_finds_no_session_id_and_no_token() {
        let (store, dir) = store().await;
        let store = store.sealed_with(b"test-key-0123456789abcdef0123456789abcdef");
        let mut record = tower_sessions::session::Record {
            id: Id::default(),
            data: [(
                "user".to_owned(),
                serde_json::json!({"refresh_token": "REFRESH-TOKEN-IN-THE-STORE"}),
            )]
            .into(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        };
        store.create(&mut record).await.expect("create");
        let super::super::Backend::Sqlite(sqlite) = &store.backend else {
            unreachable!("a SQLite store");
        };
        let (key, text): (String, String) = sqlx::query_as("select id, record from sessions")
            .fetch_one(&sqlite.pool)
            .await
            .expect("a row");
        let id = record.id.to_string();
        assert_ne!(key, id, "filed under a hash of the id");
        assert!(
            !text.contains("REFRESH") && !text.contains(&id),
            "sealed: {text}"
        );
        let file = std::fs::read(dir.path().join("sessions.db")).expect("file");
        let file = String::from_utf8_lossy(&file);
        assert!(!file.contains("REFRESH") && !file.contains(&id));

        let read = store.load(&record.id).await.expect("load").expect("found");
        assert_eq!(read.data, record.data, "the same store opens it");
        let rotated = store.sealed_with(b"another-key-0123456789abcdef0123456789ab");
        assert!(
            rotated.load(&record.id).await.is_err(),
            "a new APP_SECRET_KEY cannot read it"
        );
    }
}
