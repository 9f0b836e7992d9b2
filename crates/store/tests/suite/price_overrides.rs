//! Per-organization price overrides on SQLite and Postgres: set (upsert), list, delete,
//! validation and tenant isolation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_domain::{OrgId, Slug, Usd};
use keyway_store::price_overrides::Prices;
use keyway_store::{Database, StoreError};

macro_rules! on_both_engines {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/keyway.db?mode=rwc", dir.path().display());
                let db = keyway_store::Database::connect(&url, 4).await.unwrap();
                db.migrate().await.unwrap();
                super::$scenario(&db).await;
            }

            #[tokio::test]
            async fn postgres() {
                let pg = keyway_testkit::services::TestPostgres::create().await.unwrap();
                let db = keyway_store::Database::connect(pg.url(), 4).await.unwrap();
                db.migrate().await.unwrap();
                super::$scenario(&db).await;
            }
        }
    )*};
}

on_both_engines!(
    overrides_upsert_list_and_delete,
    overrides_are_validated_and_org_scoped
);

async fn org(db: &Database, slug: &str) -> OrgId {
    db.create_org(&Slug::parse(slug).unwrap(), slug)
        .await
        .unwrap()
        .id
}

fn usd(dollars: i64) -> Usd {
    Usd::from_nanos(dollars * 1_000_000_000)
}

async fn overrides_upsert_list_and_delete(db: &Database) {
    let acme = org(db, "acme").await;
    let set = db
        .set_price_override(acme, "OpenAI", "gpt-4o", Prices::new(usd(2), usd(8)))
        .await
        .unwrap();
    assert_eq!(set.provider, "openai");
    assert_eq!(set.prices.cached_read_per_mtok, usd(2));
    assert_eq!(set.prices.reasoning_per_mtok, usd(8));
    db.set_price_override(acme, "anthropic", "*", Prices::new(usd(1), usd(1)))
        .await
        .unwrap();
    // Setting the same provider and pattern again replaces the price.
    let mut cheaper = Prices::new(usd(1), usd(4));
    cheaper.cached_read_per_mtok = Usd::from_nanos(100_000_000);
    let again = db
        .set_price_override(acme, "openai", "GPT-4o", cheaper)
        .await
        .unwrap();
    assert_eq!(again.id, set.id);
    let list = db.list_price_overrides(acme).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0].provider.as_str(), list[0].model_pattern.as_str()),
        ("anthropic", "*")
    );
    assert_eq!(list[1].prices, cheaper);

    assert!(
        db.delete_price_override(acme, "openai", "gpt-4o")
            .await
            .unwrap()
    );
    assert!(
        !db.delete_price_override(acme, "openai", "gpt-4o")
            .await
            .unwrap()
    );
    assert_eq!(db.list_price_overrides(acme).await.unwrap().len(), 1);
}

async fn overrides_are_validated_and_org_scoped(db: &Database) {
    let acme = org(db, "acme").await;
    let globex = org(db, "globex").await;
    for (provider, pattern, prices) in [
        ("", "gpt-4o", Prices::new(usd(1), usd(1))),
        ("openai", "", Prices::new(usd(1), usd(1))),
        ("openai", "gpt 4o", Prices::new(usd(1), usd(1))),
        ("openai", "gpt-4o", Prices::new(usd(-1), usd(1))),
    ] {
        assert!(
            matches!(
                db.set_price_override(acme, provider, pattern, prices).await,
                Err(StoreError::Invalid(_))
            ),
            "{provider:?} {pattern:?}"
        );
    }
    assert!(matches!(
        db.set_price_override(
            OrgId::new(),
            "openai",
            "gpt-4o",
            Prices::new(usd(1), usd(1))
        )
        .await,
        Err(StoreError::NotFound(_))
    ));
    db.set_price_override(acme, "openai", "gpt-4o", Prices::new(usd(1), usd(1)))
        .await
        .unwrap();
    assert!(db.list_price_overrides(globex).await.unwrap().is_empty());
    assert!(
        !db.delete_price_override(globex, "openai", "gpt-4o")
            .await
            .unwrap()
    );
    assert_eq!(db.list_price_overrides(acme).await.unwrap().len(), 1);
}
