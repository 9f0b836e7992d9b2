//! Guardrails on SQLite and Postgres: versions are immutable and numbered, slugs are unique per
//! organization, keys attach them by id, and another organization sees none of it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_domain::{OrgId, Slug};
use keyway_store::virtual_keys::{KeyUpdate, NewKey};
use keyway_store::{Database, StoreError};
use serde_json::json;

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

on_both_engines!(guardrails_version_attach_and_stay_in_their_org);

async fn org(db: &Database, slug: &str) -> OrgId {
    db.create_org(&Slug::parse(slug).unwrap(), slug)
        .await
        .unwrap()
        .id
}

async fn guardrails_version_attach_and_stay_in_their_org(db: &Database) {
    let acme = org(db, "acme").await;
    let other = org(db, "other").await;
    let v1 = json!({"version": 1, "checks": []});
    let v2 = json!({"version": 1, "checks": [
        {"id": "pii", "on": "input", "action": "deny", "check": {"type": "pii"}}
    ]});
    let g = db
        .create_guardrail(acme, "no-pii", v1.clone(), None)
        .await
        .unwrap();
    assert_eq!((g.version, g.slug.as_str()), (1, "no-pii"));
    assert!(matches!(
        db.create_guardrail(acme, "no-pii", v1.clone(), None).await,
        Err(StoreError::Conflict(_))
    ));
    db.create_guardrail(other, "no-pii", v1.clone(), None)
        .await
        .unwrap();

    let g2 = db
        .update_guardrail(acme, g.id, None, Some(v2.clone()), None)
        .await
        .unwrap();
    assert_eq!((g2.version, &g2.definition), (2, &v2));
    let versions = db.list_guardrail_versions(acme, g.id).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].definition, v1, "version 1 is unchanged");

    assert!(db.get_guardrail(other, g.id).await.unwrap().is_none());
    assert_eq!(db.list_guardrails(acme).await.unwrap().len(), 1);

    // Keys attach guardrails of their own organization only.
    let new = |ids: Vec<uuid::Uuid>| NewKey {
        name: "k".into(),
        guardrails: ids,
        ..NewKey::default()
    };
    assert!(matches!(
        db.issue_key(other, new(vec![g.id])).await,
        Err(StoreError::Invalid(_))
    ));
    let (key, secret) = db.issue_key(acme, new(vec![g.id])).await.unwrap();
    assert_eq!(key.guardrails, vec![g.id]);
    let policy = db
        .key_by_hash(&keyway_store::virtual_keys::hash_key(secret.expose()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(policy.guardrails, vec![g.id]);
    assert_eq!(
        db.keys_using_guardrail(acme, g.id).await.unwrap(),
        vec![key.id]
    );
    let detached = db
        .update_key(
            acme,
            key.id,
            KeyUpdate {
                guardrails: Some(vec![]),
                ..KeyUpdate::default()
            },
        )
        .await
        .unwrap();
    assert!(detached.guardrails.is_empty());
    assert!(
        db.keys_using_guardrail(acme, g.id)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(matches!(
        db.delete_guardrail(other, g.id).await,
        Err(StoreError::NotFound(_))
    ));
    db.delete_guardrail(acme, g.id).await.unwrap();
    assert!(db.get_guardrail(acme, g.id).await.unwrap().is_none());
}
