//! Target health shared between replicas through real Redis (each test its own key prefix).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_store::Kv;
use keyway_store::health::{Admission, HealthConfig, HealthTable, ManualClock, Outcome, TargetKey};
use keyway_testkit::services::TestRedis;
use std::sync::Arc;
use std::time::Duration;

fn replica(clock: &ManualClock) -> HealthTable {
    HealthTable::with_clock(HealthConfig::default(), Arc::new(clock.clone()))
}

#[tokio::test]
async fn an_open_circuit_on_one_replica_is_skipped_by_the_others_until_it_goes_stale() {
    let redis = TestRedis::create().await.unwrap();
    let kv_a = Kv::redis(redis.url(), redis.prefix()).await.unwrap();
    let kv_b = Kv::redis(redis.url(), redis.prefix()).await.unwrap();
    let (clock_a, clock_b) = (ManualClock::default(), ManualClock::default());
    let (a, b) = (replica(&clock_a), replica(&clock_b));
    let down = TargetKey::new("org", "openai", "gpt-4o");
    let fine = TargetKey::new("org", "anthropic", "claude");

    for _ in 0..5 {
        a.record(&down, Outcome::Failure);
    }
    for _ in 0..4 {
        a.record(&fine, Outcome::Success(Duration::from_millis(100)));
    }
    b.record(&fine, Outcome::Success(Duration::from_millis(300)));
    assert_eq!(b.admit(&down), Admission::Allowed, "b has seen nothing yet");

    a.publish(&kv_a, "a").await.unwrap();
    b.publish(&kv_b, "b").await.unwrap();
    b.merge(&kv_b, "b").await.unwrap();
    assert!(matches!(b.admit(&down), Admission::Rejected { .. }));
    assert_eq!(b.multiplier(&down), 0.0);
    // Latency blends by samples: (300 * 1 + 100 * 4) / 5 = 140 ms -> still healthy.
    assert_eq!(b.multiplier(&fine), 1.0);

    // A replica ignores its own report.
    a.merge(&kv_a, "a").await.unwrap();
    assert!(matches!(a.admit(&down), Admission::Rejected { .. }));
    assert_eq!(a.snapshot(&fine).unwrap().latency_ms, Some(100.0));

    // Reports older than stale_after are ignored.
    clock_b.advance(Duration::from_secs(11));
    b.merge(&kv_b, "b").await.unwrap();
    assert_eq!(b.admit(&down), Admission::Allowed);
}

#[tokio::test]
async fn publishing_on_in_process_state_is_a_no_op() {
    let kv = Kv::memory("t:");
    let t = HealthTable::new(HealthConfig::default());
    t.record(&TargetKey::new("o", "c", "m"), Outcome::Failure);
    t.publish(&kv, "a").await.unwrap();
    t.merge(&kv, "a").await.unwrap();
    assert_eq!(
        t.snapshot(&TargetKey::new("o", "c", "m")).unwrap().samples,
        1
    );
}
