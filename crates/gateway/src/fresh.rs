//! Read-through cache entries that are refreshed by one request at a time.
//!
//! Key policies and team/organization limits are read on every request and re-read from the
//! database once they are older than a few seconds. Without coordination, the moment an entry
//! ages out under load every request in flight misses at once and queries the database for the
//! same row (hundreds of identical queries every few seconds, and a connection pool grown to its
//! limit). Here the first request to see an aged entry claims its refresh; the others keep
//! answering from the entry until the new one lands. A refresh that fails (or whose request is
//! cancelled) gives the claim back, so the next request tries again.
//!
//! Entries stay in the cache past their freshness (up to [`STALE_LIMIT`], the caches' time to
//! live), so that a caller can keep serving them while the database is unreachable.

use moka::sync::Cache;
use std::borrow::Borrow;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long an aged entry may keep answering while the database is unreachable: the time to
/// live of every cache built on [`Fresh`] entries.
pub const STALE_LIMIT: Duration = Duration::from_secs(300);

/// A cached value, when it was fetched, and whether a request is refreshing it.
#[derive(Clone)]
pub struct Fresh<T> {
    /// The value as last fetched.
    pub value: T,
    fetched: Instant,
    refreshing: Arc<AtomicBool>,
}

impl<T> Fresh<T> {
    fn new(value: T) -> Self {
        Self {
            value,
            fetched: Instant::now(),
            refreshing: Arc::default(),
        }
    }
}

/// Gives a refresh claim back when the refresh ends, however it ends (the request may be
/// dropped mid-query).
struct Claim(Arc<AtomicBool>);

impl Drop for Claim {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A fetch that failed, with the entry it would have replaced (if any) for the caller to fall
/// back on.
pub struct Failed<V, E> {
    /// What the fetch returned.
    pub error: E,
    /// The aged entry's value.
    pub stale: Option<V>,
}

impl<V, E> Failed<V, E> {
    /// The aged value if there is one, else the error.
    pub fn or_stale(self) -> Result<V, E> {
        self.stale.ok_or(self.error)
    }
}

/// `key`'s value: from `cache` while younger than `ttl` or while another request refreshes
/// it, else from `fetch` (boxed, so that the usual cache hit carries none of its state), which
/// then replaces the entry.
pub async fn read_through<K, Q, V, E, F>(
    cache: &Cache<K, Fresh<V>>,
    key: &Q,
    ttl: Duration,
    fetch: impl FnOnce() -> F,
) -> Result<V, Failed<V, E>>
where
    K: Hash + Eq + Send + Sync + Borrow<Q> + 'static,
    Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    V: Clone + Send + Sync + 'static,
    F: Future<Output = Result<V, E>>,
{
    let entry = cache.get(key);
    let _claim = match &entry {
        Some(c) if c.fetched.elapsed() < ttl => return Ok(c.value.clone()),
        Some(c) => {
            if c.refreshing.swap(true, Ordering::AcqRel) {
                return Ok(c.value.clone());
            }
            Some(Claim(c.refreshing.clone()))
        }
        // Nothing to answer with: concurrent first lookups each fetch.
        None => None,
    };
    match Box::pin(fetch()).await {
        Ok(value) => {
            cache.insert(key.to_owned(), Fresh::new(value.clone()));
            Ok(value)
        }
        Err(error) => Err(Failed {
            error,
            stale: entry.map(|c| c.value),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn cache() -> Cache<&'static str, Fresh<u32>> {
        Cache::builder().max_capacity(16).build()
    }

    /// A fetch that counts its calls and answers `value` after `delay`.
    fn counted(
        calls: &AtomicUsize,
        value: Result<u32, &'static str>,
        delay: Duration,
    ) -> impl Future<Output = Result<u32, &'static str>> {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(delay).await;
            value
        }
    }

    #[tokio::test]
    async fn an_aged_entry_is_refreshed_by_one_of_many_concurrent_requests() {
        let cache = cache();
        let calls = AtomicUsize::new(0);
        let ttl = Duration::from_millis(20);
        let first = read_through(&cache, &"org", ttl, || {
            counted(&calls, Ok(1), Duration::ZERO)
        })
        .await;
        assert!(matches!(first, Ok(1)));
        tokio::time::sleep(ttl * 2).await;

        // 100 requests see the aged entry at once: one queries, the others answer with it.
        let answers = futures_util::future::join_all((0..100).map(|_| {
            read_through(&cache, &"org", ttl, || {
                counted(&calls, Ok(2), Duration::from_millis(30))
            })
        }))
        .await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "one fetch to fill, one to refresh"
        );
        let values: Vec<u32> = answers.into_iter().map(|a| a.ok().unwrap_or(0)).collect();
        assert_eq!(values.iter().filter(|v| **v == 2).count(), 1);
        assert_eq!(values.iter().filter(|v| **v == 1).count(), 99);
        // The refreshed entry answers without a query.
        let next = read_through(&cache, &"org", ttl, || {
            counted(&calls, Ok(3), Duration::ZERO)
        });
        assert!(matches!(next.await, Ok(2)));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_or_abandoned_refresh_gives_the_claim_back() {
        let cache = cache();
        let calls = AtomicUsize::new(0);
        let ttl = Duration::from_millis(10);
        let _ = read_through(&cache, &"org", ttl, || {
            counted(&calls, Ok(1), Duration::ZERO)
        })
        .await;
        tokio::time::sleep(ttl * 2).await;

        // A failed refresh reports the aged value for the caller to fall back on.
        let failed = read_through(&cache, &"org", ttl, || {
            counted(&calls, Err("database down"), Duration::ZERO)
        })
        .await;
        match failed {
            Err(Failed { error, stale }) => {
                assert_eq!(error, "database down");
                assert_eq!(stale, Some(1));
            }
            Ok(v) => panic!("the failed refresh answered {v}"),
        }

        // A refresh whose request is dropped mid-query does not leave the claim taken.
        let abandoned = read_through(&cache, &"org", ttl, || {
            counted(&calls, Ok(9), Duration::from_secs(60))
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(10), abandoned)
                .await
                .is_err()
        );
        let retried = read_through(&cache, &"org", ttl, || {
            counted(&calls, Ok(4), Duration::ZERO)
        });
        assert!(matches!(retried.await, Ok(4)));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_first_lookup_that_fails_has_nothing_to_fall_back_on() {
        let cache = cache();
        let calls = AtomicUsize::new(0);
        let failed = read_through(&cache, &"org", Duration::from_secs(5), || {
            counted(&calls, Err("database down"), Duration::ZERO)
        })
        .await;
        assert!(matches!(failed, Err(Failed { stale: None, .. })));
        assert_eq!(cache.entry_count(), 0);
    }
}
