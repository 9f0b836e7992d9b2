//! The store against real engines: the same assertions on SQLite and Postgres, and on
//! in-process and Redis key-value state.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_domain::Slug;
use keyway_store::{Database, DatabaseKind, Kv, StoreError};
use keyway_testkit::services::{TestPostgres, TestRedis};
use std::time::Duration;

async fn org_round_trip(db: &Database) {
    db.migrate().await.unwrap();
    // Idempotent: a second run applies nothing and fails nothing.
    db.migrate().await.unwrap();
    assert!(db.pending_migrations().await.unwrap().is_empty());

    let slug = Slug::parse("acme").unwrap();
    let created = db.create_org(&slug, "Acme Inc.").await.unwrap();
    assert_eq!(db.org(created.id).await.unwrap().as_ref(), Some(&created));
    assert_eq!(
        db.org_by_slug(&slug).await.unwrap().as_ref(),
        Some(&created)
    );
    assert_eq!(created.name, "Acme Inc.");

    let taken = db.create_org(&slug, "Someone else").await.unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "{taken:?}");
    let other = db
        .org_by_slug(&Slug::parse("nobody").unwrap())
        .await
        .unwrap();
    assert!(other.is_none());
}

#[tokio::test]
async fn organizations_round_trip_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}/nested/keyway.db?mode=rwc",
        dir.path().display()
    );
    let db = Database::connect(&url, 4).await.unwrap();
    assert_eq!(db.kind(), DatabaseKind::Sqlite);
    org_round_trip(&db).await;
    // The data survives a reconnect: it is a real file, not memory.
    let again = Database::connect(&url, 1).await.unwrap();
    let slug = Slug::parse("acme").unwrap();
    assert!(again.org_by_slug(&slug).await.unwrap().is_some());
}

#[tokio::test]
async fn organizations_round_trip_on_postgres() {
    let pg = TestPostgres::create().await.unwrap();
    let db = Database::connect(pg.url(), 4).await.unwrap();
    assert_eq!(db.kind(), DatabaseKind::Postgres);
    org_round_trip(&db).await;
}

async fn kv_semantics(kv: &Kv) {
    kv.ping().await.unwrap();
    assert_eq!(kv.get("missing").await.unwrap(), None);
    kv.set("k", b"v1", None).await.unwrap();
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"v1"[..]));
    assert!(kv.delete("k").await.unwrap());
    assert!(!kv.delete("k").await.unwrap());

    kv.set("short", b"x", Some(Duration::from_millis(50)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        kv.get("short").await.unwrap(),
        None,
        "value outlived its ttl"
    );

    let window = Duration::from_millis(300);
    assert_eq!(kv.incr_window("rpm", 1, window).await.unwrap(), 1);
    assert_eq!(kv.incr_window("rpm", 1, window).await.unwrap(), 2);
    assert_eq!(kv.incr_window("rpm", 5, window).await.unwrap(), 7);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        kv.incr_window("rpm", 1, window).await.unwrap(),
        1,
        "window did not reset"
    );
}

#[tokio::test]
async fn memory_kv_semantics() {
    kv_semantics(&Kv::memory("t:")).await;
}

#[tokio::test]
async fn redis_kv_semantics() {
    let redis = TestRedis::create().await.unwrap();
    kv_semantics(&Kv::redis(redis.url(), redis.prefix()).await.unwrap()).await;
}

#[tokio::test]
async fn redis_prefixes_isolate_deployments_and_tests() {
    let (a, b) = (
        TestRedis::create().await.unwrap(),
        TestRedis::create().await.unwrap(),
    );
    let kv_a = Kv::redis(a.url(), a.prefix()).await.unwrap();
    let kv_b = Kv::redis(b.url(), b.prefix()).await.unwrap();
    kv_a.set("shared-name", b"from-a", None).await.unwrap();
    assert_eq!(kv_b.get("shared-name").await.unwrap(), None);
    assert_eq!(
        kv_b.incr_window("counter", 1, Duration::from_secs(60))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        kv_a.incr_window("counter", 1, Duration::from_secs(60))
            .await
            .unwrap(),
        1
    );

    // The key really lives under the prefix in Redis.
    let client = redis::Client::open(a.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let raw: Option<String> = redis::cmd("GET")
        .arg(format!("{}shared-name", a.prefix()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(raw.as_deref(), Some("from-a"));
}

#[tokio::test]
async fn redis_counters_are_exact_under_concurrency() {
    let redis = TestRedis::create().await.unwrap();
    let kv = Kv::redis(redis.url(), redis.prefix()).await.unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let kv = kv.clone();
            tokio::spawn(async move { kv.incr_window("c", 1, Duration::from_secs(60)).await })
        })
        .collect();
    let mut seen: Vec<i64> = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap().unwrap());
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=200).collect::<Vec<_>>(),
        "every increment got a distinct value"
    );
}
