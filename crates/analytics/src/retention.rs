//! Periodic retention: deletes each org's requests older than its retention in days.
//!
//! The per-org setting lives in the control plane; the caller passes a [`RetentionSource`]
//! (any `Fn() -> Future<Output = Vec<(org_id, days)>>`) that yields the current policies.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::AnalyticsStore;

/// Yields the `(org_id, retention_days)` pairs to enforce.
pub trait RetentionSource: Send + Sync + 'static {
    /// The current policies.
    fn policies(&self) -> impl Future<Output = Vec<(String, u32)>> + Send;
}

impl<F, Fut> RetentionSource for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<(String, u32)>> + Send,
{
    fn policies(&self) -> impl Future<Output = Vec<(String, u32)>> + Send {
        self()
    }
}

/// Runs [`AnalyticsStore::enforce_retention`] for every policy of `source` now and then every
/// `every`, until the returned task is aborted. Failures are logged and retried next round.
pub fn spawn_retention(
    store: AnalyticsStore,
    every: Duration,
    source: impl RetentionSource,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every.max(Duration::from_secs(1)));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            for (org_id, days) in source.policies().await {
                if let Err(error) = store
                    .enforce_retention(&org_id, days, chrono::Utc::now())
                    .await
                {
                    tracing::warn!(%org_id, days, %error, "analytics retention failed");
                }
            }
        }
    })
}
