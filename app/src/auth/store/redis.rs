//! The Redis store, for several servers behind a load balancer. Every write
//! that must check and change together is one Lua script, so no other
//! instance can come in between.
//!
//! Keys: `{s}session:<key>` holds the sealed record (`<key>` is the hash of
//! the session id) and expires with it; `{s}subject:<sub>` and
//! `{s}sid:<sid>` are sets of those keys, kept at least as long as their
//! longest-lived member; `{s}deadlines` orders them by deadline;
//! `claim:<name>` is a one-time claim; `lock:<name>` a lock, holding its
//! owner.
//!
//! Redis Cluster: every script declares all the keys it touches, and those
//! keys share the hash tag `{s}`, so each script runs on one node, in one
//! slot. (The sessions then live on one node of the cluster; claims and
//! locks, one key each, spread over all of them.)

use std::time::Duration;

use fred::prelude::{
    Builder, ClientLike, Config, Expiration, KeysInterface, LuaInterface, ReconnectPolicy,
    SetOptions, SetsInterface,
};
use time::OffsetDateTime;
use tower_sessions::session_store;

use super::seal::Sealed;
use super::{backend, millis, Index, Lock};

/// How long one command may wait for Redis before the request gets a 503.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub(super) struct Redis {
    client: fred::clients::Client,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client's own Debug would print the URL, password included.
        f.write_str("Redis")
    }
}

/// Writes the record and files it under its index sets and, by its
/// deadline, in the deadline index. ARGV[4] says when: `NX` only if absent,
/// `XX` only if present, `CAS` only if it is still stored exactly as
/// ARGV[5]. KEYS: session, the deadline index, then index sets. ARGV:
/// record, ttl in ms, session key, mode, previous record, deadline (ms, or
/// empty).
const WRITE: &str = r#"
if ARGV[4] == 'CAS' then
  if redis.call('GET', KEYS[1]) ~= ARGV[5] then
    return 0
  end
  redis.call('SET', KEYS[1], ARGV[1], 'XX', 'PX', ARGV[2])
elseif not redis.call('SET', KEYS[1], ARGV[1], ARGV[4], 'PX', ARGV[2]) then
  return 0
end
if ARGV[6] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[3])
end
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[3])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  end
end
return 1
"#;

/// Deletes a session and takes it out of the deadline index and of its
/// index sets. KEYS: the session, the deadline index, then the index sets.
/// ARGV: the session key.
const DELETE: &str = r#"
redis.call('ZREM', KEYS[2], ARGV[1])
for i = 3, #KEYS do
  redis.call('SREM', KEYS[i], ARGV[1])
end
return redis.call('DEL', KEYS[1])
"#;

/// Up to ARGV[2] keys of the deadline index KEYS[1] with a deadline at or
/// before ARGV[1].
const DUE: &str = r#"
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
"#;

/// The sorted set of session keys by deadline, which the sweep reads.
const DEADLINES: &str = "{s}deadlines";

/// Extends a lock if its owner still holds it. KEYS: the lock. ARGV: the
/// owner, the new ttl in ms.
const EXTEND_LOCK: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Releases a lock if its owner still holds it. KEYS: the lock. ARGV: the
/// owner.
const UNLOCK: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

fn lock_key(lock: &Lock) -> String {
    format!("lock:{}", lock.key)
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

fn session_key(key: &str) -> String {
    format!("{{s}}session:{key}")
}

fn index_keys(index: &Index) -> Vec<String> {
    let subject = index
        .subject
        .iter()
        .map(|sub| format!("{{s}}subject:{sub}"));
    let sid = index.sid.iter().map(|sid| format!("{{s}}sid:{sid}"));
    subject.chain(sid).collect()
}

fn ttl_millis(record: &Sealed) -> i64 {
    let left = record.expires_at - OffsetDateTime::now_utc();
    i64::try_from(left.whole_milliseconds())
        .unwrap_or(i64::MAX)
        .max(1)
}

impl Redis {
    pub async fn connect(url: &str) -> Result<Self, fred::error::Error> {
        let config = Config::from_url(url)?;
        let client = Builder::from_config(config)
            .with_connection_config(|connection| {
                connection.connection_timeout = COMMAND_TIMEOUT;
                connection.internal_command_timeout = COMMAND_TIMEOUT;
            })
            .with_performance_config(|performance| {
                performance.default_command_timeout = COMMAND_TIMEOUT;
            })
            // Reconnects by itself, for ever, at most a second apart: the app
            // recovers when Redis is back without a restart.
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 1_000, 2))
            .build()?;
        client.init().await?;
        client.ping::<String>(None).await?;
        Ok(Self { client })
    }

    pub async fn ping(&self) -> bool {
        self.client.ping::<String>(None).await.is_ok()
    }

    /// Runs `WRITE` for the record, in `mode` (and against `previous`).
    async fn write(
        &self,
        record: &Sealed,
        index: &Index,
        mode: &str,
        previous: &str,
    ) -> session_store::Result<bool> {
        let keys: Vec<String> = [session_key(&record.key), DEADLINES.to_owned()]
            .into_iter()
            .chain(index_keys(index))
            .collect();
        let args = vec![
            record.text.clone(),
            ttl_millis(record).to_string(),
            record.key.clone(),
            mode.to_owned(),
            previous.to_owned(),
            millis(index.deadline)
                .map(|at| at.to_string())
                .unwrap_or_default(),
        ];
        let written: i64 = self.client.eval(WRITE, keys, args).await.map_err(backend)?;
        Ok(written == 1)
    }

    /// False if a record is already filed under the same key.
    pub async fn create(&self, record: &Sealed, index: &Index) -> session_store::Result<bool> {
        self.write(record, index, "NX", "").await
    }

    pub async fn update_if_present(
        &self,
        record: &Sealed,
        index: &Index,
    ) -> session_store::Result<bool> {
        self.write(record, index, "XX", "").await
    }

    pub async fn replace(
        &self,
        record: &Sealed,
        index: &Index,
        previous: &str,
    ) -> session_store::Result<bool> {
        self.write(record, index, "CAS", previous).await
    }

    pub async fn fetch(&self, key: &str) -> session_store::Result<Option<String>> {
        self.client.get(session_key(key)).await.map_err(backend)
    }

    /// Deletes the session filed under `key` and `index`; true if there
    /// was one.
    pub async fn delete(&self, key: &str, index: &Index) -> session_store::Result<bool> {
        let keys: Vec<String> = [session_key(key), DEADLINES.to_owned()]
            .into_iter()
            .chain(index_keys(index))
            .collect();
        let deleted: i64 = self
            .client
            .eval(DELETE, keys, vec![key])
            .await
            .map_err(backend)?;
        Ok(deleted == 1)
    }

    /// Keys of up to `limit` sessions whose deadline is at or before `now`
    /// (Unix milliseconds): a range of the deadline index, never a scan.
    pub async fn due(&self, now: i64, limit: usize) -> session_store::Result<Vec<String>> {
        self.client
            .eval(
                DUE,
                vec![DEADLINES.to_owned()],
                vec![now.to_string(), limit.to_string()],
            )
            .await
            .map_err(backend)
    }

    /// The session ids filed under an index set. `kind` is never input.
    pub async fn indexed(
        &self,
        kind: &'static str,
        value: &str,
    ) -> session_store::Result<Vec<String>> {
        self.client
            .smembers(format!("{{s}}{kind}:{value}"))
            .await
            .map_err(backend)
    }

    pub async fn claim(&self, key: &str, ttl: Duration) -> session_store::Result<bool> {
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let taken: Option<String> = self
            .client
            .set(
                format!("claim:{key}"),
                "1",
                Some(Expiration::PX(millis)),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(backend)?;
        Ok(taken.is_some())
    }

    pub async fn lock(&self, lock: &Lock, ttl: Duration) -> session_store::Result<bool> {
        let taken: Option<String> = self
            .client
            .set(
                lock_key(lock),
                lock.owner.as_str(),
                Some(Expiration::PX(ttl_ms(ttl))),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(backend)?;
        Ok(taken.is_some())
    }

    pub async fn extend(&self, lock: &Lock, ttl: Duration) -> session_store::Result<bool> {
        let extended: i64 = self
            .client
            .eval(
                EXTEND_LOCK,
                vec![lock_key(lock)],
                vec![lock.owner.clone(), ttl_ms(ttl).to_string()],
            )
            .await
            .map_err(backend)?;
        Ok(extended == 1)
    }

    pub async fn unlock(&self, lock: &Lock) -> session_store::Result<()> {
        let _: i64 = self
            .client
            .eval(UNLOCK, vec![lock_key(lock)], vec![lock.owner.clone()])
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub async fn is_claimed(&self, key: &str) -> session_store::Result<bool> {
        let held: i64 = self
            .client
            .exists(format!("claim:{key}"))
            .await
            .map_err(backend)?;
        Ok(held > 0)
    }

    pub async fn release(&self, key: &str) -> session_store::Result<()> {
        let _: i64 = self
            .client
            .del(format!("claim:{key}"))
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// The server's tests start a Redis Cluster the same way.
#[cfg(test)]
#[path = "../../../../server/tests/it/support/redis_cluster.rs"]
mod redis_cluster;

#[cfg(test)]
mod tests {
    use super::super::{contract, Store};

    /// A throwaway Redis on a free loopback port, stopped when dropped.
    struct Server(std::process::Child, u16);

    impl Server {
        async fn start() -> Self {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            let child = std::process::Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server on PATH (scripts/setup installs it)");
            for _ in 0..500 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Self(child, port)
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[tokio::test]
    async fn keeps_the_store_contract() {
        let server = Server::start().await;
        let store = Store::redis(&format!("redis://127.0.0.1:{}/0", server.1))
            .await
            .expect("store");
        contract::holds(&store).await;
    }

    #[tokio::test]
    async fn keeps_the_store_contract_on_a_cluster() {
        let cluster = super::redis_cluster::RedisCluster::start().await;
        let store = Store::redis(&cluster.url()).await.expect("store");
        contract::holds(&store).await;
    }

    #[tokio::test]
    async fn a_session_that_ends_leaves_no_key_in_any_index() {
        use fred::prelude::{KeysInterface, SetsInterface};
        use tower_sessions::SessionStore;
        let server = Server::start().await;
        let store = Store::redis(&format!("redis://127.0.0.1:{}/0", server.1))
            .await
            .expect("store")
            .indexed_by(contract::index);
        let super::super::Backend::Redis(redis) = &store.backend else {
            unreachable!("a Redis store");
        };
        let members = |set: &'static str| async move {
            let members: Vec<String> = redis.client.smembers(set).await.expect("smembers");
            members
        };
        let (mut phone, mut laptop) = (contract::record("u1", "s1"), contract::record("u1", "s2"));
        store.create(&mut phone).await.expect("create");
        store.create(&mut laptop).await.expect("create");
        assert_eq!(members("{s}subject:u1").await.len(), 2);

        store.delete(&phone.id).await.expect("delete");
        assert_eq!(
            members("{s}subject:u1").await.len(),
            1,
            "pruned by a logout"
        );
        assert!(members("{s}sid:s1").await.is_empty());

        assert_eq!(store.end_sid("s2").await.expect("end"), 1);
        assert!(
            members("{s}subject:u1").await.is_empty(),
            "pruned by an event"
        );
        assert!(members("{s}sid:s2").await.is_empty());
        let left: i64 = redis
            .client
            .exists(vec!["{s}subject:u1", "{s}sid:s1", "{s}sid:s2"])
            .await
            .expect("exists");
        assert_eq!(left, 0, "empty sets are gone");
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_at_start() {
        // Bound but never listened on: connections are refused, and no other
        // test can be given the port meanwhile.
        let reserved = tokio::net::TcpSocket::new_v4().expect("socket");
        reserved
            .bind("127.0.0.1:0".parse().expect("address"))
            .expect("bind");
        let port = reserved.local_addr().expect("addr").port();
        let error = Store::redis(&format!("redis://:hunter2@127.0.0.1:{port}/0"))
            .await
            .expect_err("nothing listens there");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert_eq!(error.to_string(), "connection refused");
    }
}
