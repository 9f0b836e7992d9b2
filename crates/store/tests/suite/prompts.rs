//! Prompt templates on SQLite and Postgres: versions are immutable and numbered, labels move
//! (rollback), partials version the same way, and another organization sees none of it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_domain::prompt::{PromptMessage, PromptTemplate};
use keyway_domain::{OrgId, Slug};
use keyway_store::prompts::VersionSelector;
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
    prompts_version_label_and_delete,
    prompt_partials_version_and_are_org_scoped
);

async fn org(db: &Database, slug: &str) -> OrgId {
    db.create_org(&Slug::parse(slug).unwrap(), slug)
        .await
        .unwrap()
        .id
}

fn template(content: &str) -> PromptTemplate {
    PromptTemplate {
        messages: vec![PromptMessage {
            role: "user".into(),
            content: content.into(),
        }],
        model: "openai/gpt-4o-mini".into(),
        parameters: serde_json::json!({"temperature": 0.1})
            .as_object()
            .cloned()
            .unwrap(),
        variables: serde_json::from_value(serde_json::json!({"name": {"required": true}})).unwrap(),
        guardrails: Vec::new(),
    }
}

async fn prompts_version_label_and_delete(db: &Database) {
    let acme = org(db, "acme").await;
    let other = org(db, "other").await;
    let p = db
        .create_prompt(
            acme,
            "greet",
            "Greet",
            "says hi",
            &template("Hi {{name}}"),
            "first",
            None,
        )
        .await
        .unwrap();
    assert_eq!((p.latest_version, p.slug.as_str()), (1, "greet"));
    let dup = db
        .create_prompt(acme, "greet", "Again", "", &template("x"), "", None)
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict("prompt slug"))));
    // Another org may use the same slug.
    db.create_prompt(other, "greet", "Theirs", "", &template("x"), "", None)
        .await
        .unwrap();

    let guarded = PromptTemplate {
        guardrails: vec![uuid::Uuid::now_v7(), uuid::Uuid::now_v7()],
        ..template("Hello {{name}}")
    };
    let v2 = db
        .create_prompt_version(acme, p.id, &guarded, "warmer", None)
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(
        db.get_prompt_version(acme, p.id, 2)
            .await
            .unwrap()
            .unwrap()
            .template,
        guarded,
        "a version keeps the guardrails it names"
    );
    let versions = db.list_prompt_versions(acme, p.id).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(versions[1].template, template("Hi {{name}}"));
    assert_eq!(versions[1].commit_message, "first");

    // Without labels the default is the newest version.
    let pick = |selector: VersionSelector| async move {
        db.resolve_prompt(acme, "greet", &selector)
            .await
            .map(|found| found.map(|(_, v)| v.version))
    };
    assert_eq!(pick(VersionSelector::Default).await.unwrap(), Some(2));
    assert_eq!(pick(VersionSelector::Number(1)).await.unwrap(), Some(1));
    assert!(matches!(
        pick(VersionSelector::Number(9)).await,
        Err(StoreError::NotFound("prompt version"))
    ));
    assert!(matches!(
        pick(VersionSelector::Label("staging".into())).await,
        Err(StoreError::NotFound("prompt label"))
    ));
    assert!(
        db.resolve_prompt(acme, "nope", &VersionSelector::Default)
            .await
            .unwrap()
            .is_none()
    );

    db.set_prompt_label(acme, p.id, "production", 2, None)
        .await
        .unwrap();
    db.set_prompt_label(acme, p.id, "production", 1, None)
        .await
        .unwrap();
    let missing = db.set_prompt_label(acme, p.id, "staging", 9, None).await;
    assert!(matches!(
        missing,
        Err(StoreError::NotFound("prompt version"))
    ));
    let by_slug = db.get_prompt_by_slug(acme, "greet").await.unwrap().unwrap();
    assert_eq!(by_slug.labels.get("production"), Some(&1));
    assert_eq!(by_slug.latest_version, 2);
    let listed = db.list_prompts(acme).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|p| (&p.slug, &p.labels))
            .collect::<Vec<_>>(),
        vec![(&by_slug.slug, &by_slug.labels)],
        "the list carries each prompt's labels, and only its organization's prompts"
    );
    // With a production label, the default follows it.
    assert_eq!(pick(VersionSelector::Default).await.unwrap(), Some(1));
    db.set_prompt_label(acme, p.id, "staging", 2, None)
        .await
        .unwrap();
    assert_eq!(
        pick(VersionSelector::Label("staging".into()))
            .await
            .unwrap(),
        Some(2)
    );
    db.delete_prompt_label(acme, p.id, "staging").await.unwrap();
    assert!(matches!(
        db.delete_prompt_label(acme, p.id, "staging").await,
        Err(StoreError::NotFound("prompt label"))
    ));

    // Another organization sees nothing of it.
    assert!(db.get_prompt(other, p.id).await.unwrap().is_none());
    assert!(
        db.get_prompt_version(other, p.id, 1)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        db.set_prompt_label(other, p.id, "production", 1, None)
            .await,
        Err(StoreError::NotFound("prompt"))
    ));
    assert!(matches!(
        db.delete_prompt(other, p.id).await,
        Err(StoreError::NotFound("prompt"))
    ));

    let renamed = db
        .update_prompt(acme, p.id, Some("Greeter"), None)
        .await
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.description.as_str()),
        ("Greeter", "says hi")
    );
    db.delete_prompt(acme, p.id).await.unwrap();
    assert!(db.get_prompt(acme, p.id).await.unwrap().is_none());
    assert_eq!(db.list_prompts(acme).await.unwrap().len(), 0);
    assert_eq!(db.list_prompts(other).await.unwrap().len(), 1);
}

async fn prompt_partials_version_and_are_org_scoped(db: &Database) {
    let acme = org(db, "acme").await;
    let other = org(db, "other").await;
    let part = db
        .create_partial(acme, "tone", "Be kind.", "first", None)
        .await
        .unwrap();
    let part = db
        .create_partial_version(acme, part.id, "Be very kind.", "kinder", None)
        .await
        .unwrap();
    assert_eq!(
        (part.latest_version, part.content.as_str()),
        (2, "Be very kind.")
    );
    let versions = db.list_partial_versions(acme, part.id).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].content, "Be kind.");
    let contents = db.partial_contents(acme).await.unwrap();
    assert_eq!(
        contents.get("tone").map(String::as_str),
        Some("Be very kind.")
    );
    assert!(db.partial_contents(other).await.unwrap().is_empty());
    assert!(db.get_partial(other, part.id).await.unwrap().is_none());
    assert!(matches!(
        db.create_partial(acme, "tone", "x", "", None).await,
        Err(StoreError::Conflict("partial slug"))
    ));
    db.delete_partial(acme, part.id).await.unwrap();
    assert!(db.list_partials(acme).await.unwrap().is_empty());
}
