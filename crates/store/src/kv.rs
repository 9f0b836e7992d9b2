//! Shared key-value state behind rate limits, budgets and caches: in-process for the embedded
//! default, Redis when several gateway processes must agree.
//!
//! Every key is namespaced by a prefix (`redis.key_prefix`), so deployments and test suites can
//! share one Redis without seeing each other's keys.

use crate::StoreError;
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Atomic "increment, and start the window's expiry on first use" (a fixed-window counter).
const INCR_WINDOW: &str = r"
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if v == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v";

/// Key-value state with a key prefix.
#[derive(Clone)]
pub enum Kv {
    /// One process: a map guarded by a mutex.
    Memory(MemoryKv),
    /// Many processes: Redis, reached through an auto-reconnecting connection manager.
    Redis(RedisKv),
}

/// In-process state.
#[derive(Clone)]
pub struct MemoryKv {
    prefix: String,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    /// In-process pub/sub for cache invalidation ([`crate::invalidation`]).
    pub(crate) bus: tokio::sync::broadcast::Sender<String>,
}

impl Default for MemoryKv {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            entries: Arc::default(),
            bus: tokio::sync::broadcast::channel(BUS_CAPACITY).0,
        }
    }
}

/// Invalidation messages an in-process subscriber may fall behind by before it is told to
/// drop everything.
const BUS_CAPACITY: usize = 1024;

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|t| t > now)
    }
}

/// Redis-backed state.
#[derive(Clone)]
pub struct RedisKv {
    prefix: String,
    /// For dedicated connections (pub/sub subscriptions).
    pub(crate) client: redis::Client,
    pub(crate) conn: ConnectionManager,
    incr_window: Arc<redis::Script>,
}

impl Kv {
    /// In-process state under `prefix`.
    pub fn memory(prefix: &str) -> Self {
        Kv::Memory(MemoryKv {
            prefix: prefix.to_owned(),
            ..MemoryKv::default()
        })
    }

    /// Connects to Redis at `url`, with short timeouts so a request never hangs on it.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(Kv::Redis(RedisKv {
            prefix: prefix.to_owned(),
            client,
            conn,
            incr_window: Arc::new(redis::Script::new(INCR_WINDOW)),
        }))
    }

    /// Which backend this is, for readiness output.
    pub fn backend(&self) -> &'static str {
        match self {
            Kv::Memory(_) => "memory",
            Kv::Redis(_) => "redis",
        }
    }

    /// The Redis connection and key prefix, for modules of this crate that run their own
    /// scripts (limits, health); `None` for in-process state.
    pub(crate) fn redis_parts(&self) -> Option<(ConnectionManager, &str)> {
        match self {
            Kv::Memory(_) => None,
            Kv::Redis(r) => Some((r.conn.clone(), &r.prefix)),
        }
    }

    pub(crate) fn full_key(&self, key: &str) -> String {
        let prefix = match self {
            Kv::Memory(m) => &m.prefix,
            Kv::Redis(r) => &r.prefix,
        };
        format!("{prefix}{key}")
    }

    /// Adds `by` to the counter `key` and returns the new value; the first increment of a window
    /// sets its expiry to `window`, so the counter resets when the window ends.
    pub async fn incr_window(
        &self,
        key: &str,
        by: i64,
        window: Duration,
    ) -> Result<i64, StoreError> {
        let key = self.full_key(key);
        match self {
            Kv::Memory(m) => {
                let now = Instant::now();
                let mut entries = lock(&m.entries);
                let current = entries
                    .get(&key)
                    .filter(|e| e.live(now))
                    .map(|e| decode_i64(&e.value))
                    .transpose()?;
                let (next, expires) = match current {
                    Some(v) => (v + by, entries.get(&key).and_then(|e| e.expires)),
                    None => (by, Some(now + window)),
                };
                entries.insert(
                    key,
                    Entry {
                        value: next.to_string().into_bytes(),
                        expires,
                    },
                );
                Ok(next)
            }
            Kv::Redis(r) => {
                let mut conn = r.conn.clone();
                let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
                Ok(r.incr_window
                    .key(key)
                    .arg(by)
                    .arg(ms)
                    .invoke_async(&mut conn)
                    .await?)
            }
        }
    }

    /// Reads `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.full_key(key);
        match self {
            Kv::Memory(m) => {
                let now = Instant::now();
                Ok(lock(&m.entries)
                    .get(&key)
                    .filter(|e| e.live(now))
                    .map(|e| e.value.clone()))
            }
            Kv::Redis(r) => {
                let mut conn = r.conn.clone();
                Ok(redis::cmd("GET").arg(key).query_async(&mut conn).await?)
            }
        }
    }

    /// Writes `key`, expiring after `ttl` when given.
    pub async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let key = self.full_key(key);
        match self {
            Kv::Memory(m) => {
                let expires = ttl.map(|t| Instant::now() + t);
                lock(&m.entries).insert(
                    key,
                    Entry {
                        value: value.to_vec(),
                        expires,
                    },
                );
                Ok(())
            }
            Kv::Redis(r) => {
                let mut conn = r.conn.clone();
                let mut cmd = redis::cmd("SET");
                cmd.arg(key).arg(value);
                if let Some(ttl) = ttl {
                    cmd.arg("PX")
                        .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
                }
                cmd.query_async::<()>(&mut conn).await?;
                Ok(())
            }
        }
    }

    /// Deletes `key`; returns whether it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let key = self.full_key(key);
        match self {
            Kv::Memory(m) => {
                let now = Instant::now();
                Ok(lock(&m.entries).remove(&key).is_some_and(|e| e.live(now)))
            }
            Kv::Redis(r) => {
                let mut conn = r.conn.clone();
                let n: i64 = redis::cmd("DEL").arg(key).query_async(&mut conn).await?;
                Ok(n > 0)
            }
        }
    }

    /// A cheap round trip, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Kv::Memory(_) => Ok(()),
            Kv::Redis(r) => {
                let mut conn = r.conn.clone();
                redis::cmd("PING").query_async::<String>(&mut conn).await?;
                Ok(())
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave a half-written map entry, so poisoning is
    // safe to ignore.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn decode_i64(bytes: &[u8]) -> Result<i64, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StoreError::Invalid("counter holds a non-integer value".into()))
}
