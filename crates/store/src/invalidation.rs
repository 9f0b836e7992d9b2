//! Cache invalidation across gateway processes. Gateways cache key policies, credentials and
//! prices in-process; when one changes, the control plane publishes what changed and every
//! gateway process evicts its copy within milliseconds (the caches' short TTLs stay as the
//! backstop for a lost message).
//!
//! With Redis the messages go over the pub/sub channel `<key prefix>invalidate`; in the embedded
//! default over an in-process broadcast. Repository functions never publish by themselves: the
//! service layer (REST, dashboard, `keyway admin`) calls [`publish_key_change`] or
//! [`publish_org_change`] after a mutation has committed.

use crate::StoreError;
use crate::kv::Kv;
use futures_util::StreamExt as _;
use keyway_domain::OrgId;
use std::sync::Arc;
use std::time::Duration;

const CHANNEL: &str = "invalidate";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// One virtual key (by its hash, as [`crate::virtual_keys::hash_key`] gives it): revoked,
    /// updated, rotated.
    Key(String),
    /// Anything of one organization: disabled, credentials, aliases, prices, its keys.
    Org(OrgId),
    /// Messages may have been missed (a subscription was re-established): drop everything.
    All,
}

impl Change {
    fn encode(&self) -> String {
        match self {
            Change::Key(hash) => format!("key:{hash}"),
            Change::Org(org) => format!("org:{org}"),
            Change::All => "all".to_owned(),
        }
    }

    fn decode(msg: &str) -> Option<Self> {
        if msg == "all" {
            return Some(Change::All);
        }
        let (kind, value) = msg.split_once(':')?;
        match kind {
            "key" => Some(Change::Key(value.to_owned())),
            "org" => uuid::Uuid::parse_str(value)
                .ok()
                .map(|u| Change::Org(OrgId::from_uuid(u))),
            _ => None,
        }
    }
}

/// Tells every gateway process that the key with hash `key_hash` changed.
pub async fn publish_key_change(kv: &Kv, key_hash: &str) -> Result<(), StoreError> {
    publish(kv, &Change::Key(key_hash.to_owned())).await
}

/// Tells every gateway process that something of `org` changed.
pub async fn publish_org_change(kv: &Kv, org: OrgId) -> Result<(), StoreError> {
    publish(kv, &Change::Org(org)).await
}

/// Publishes `change` to every subscriber of `kv`'s channel.
pub async fn publish(kv: &Kv, change: &Change) -> Result<(), StoreError> {
    let msg = change.encode();
    match kv {
        Kv::Memory(m) => {
            // No receiver (no gateway in this process) is not an error.
            let _ = m.bus.send(msg);
            Ok(())
        }
        Kv::Redis(r) => {
            let mut conn = r.conn.clone();
            redis::cmd("PUBLISH")
                .arg(kv.full_key(CHANNEL))
                .arg(msg)
                .query_async::<i64>(&mut conn)
                .await?;
            Ok(())
        }
    }
}

/// A running subscription; dropping it stops listening.
pub struct Listener {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Subscribes to `kv`'s channel and calls `on_change` for every message. Returns once the
/// subscription is in place (or, when Redis cannot be reached, keeps retrying in the
/// background with backoff, sending [`Change::All`] whenever it reconnects).
pub async fn listen(kv: &Kv, on_change: impl Fn(Change) + Send + Sync + 'static) -> Listener {
    let on_change = Arc::new(on_change);
    let task = match kv {
        Kv::Memory(m) => {
            let mut rx = m.bus.subscribe();
            tokio::spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(msg) => {
                            if let Some(change) = Change::decode(&msg) {
                                on_change(change);
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            on_change(Change::All);
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    }
                }
            })
        }
        Kv::Redis(r) => {
            let client = r.client.clone();
            let channel = kv.full_key(CHANNEL);
            let first = match subscribe(&client, &channel).await {
                Ok(stream) => Some(stream),
                Err(e) => {
                    tracing::warn!(error = %e, "cache invalidation: cannot subscribe yet; retrying");
                    None
                }
            };
            tokio::spawn(redis_loop(client, channel, first, on_change))
        }
    };
    Listener { task }
}

async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> Result<redis::aio::PubSubStream, StoreError> {
    let connect = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, redis::RedisError>(pubsub.into_on_message())
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(StoreError::Invalid(
            "timed out subscribing to the invalidation channel".to_owned(),
        )),
    }
}

async fn redis_loop(
    client: redis::Client,
    channel: String,
    mut stream: Option<redis::aio::PubSubStream>,
    on_change: Arc<dyn Fn(Change) + Send + Sync>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut messages = match stream.take() {
            Some(s) => s,
            None => match subscribe(&client, &channel).await {
                Ok(s) => {
                    tracing::info!("cache invalidation: subscribed");
                    backoff = Duration::from_millis(100);
                    // Whatever was published while away is lost: start from fresh caches.
                    on_change(Change::All);
                    s
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cache invalidation: subscribe failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        while let Some(msg) = messages.next().await {
            if let Some(change) = msg
                .get_payload::<String>()
                .ok()
                .and_then(|p| Change::decode(&p))
            {
                on_change(change);
            }
        }
        tracing::warn!("cache invalidation: subscription lost; reconnecting");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip_through_their_encoding() {
        let org = OrgId::new();
        for change in [Change::Key("abc".into()), Change::Org(org), Change::All] {
            assert_eq!(Change::decode(&change.encode()), Some(change));
        }
        assert_eq!(Change::decode("org:not-a-uuid"), None);
        assert_eq!(Change::decode("nonsense"), None);
    }
}
