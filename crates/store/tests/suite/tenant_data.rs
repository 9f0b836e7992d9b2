//! Tenant data against real engines: provider credentials (sealed), virtual keys (hashed),
//! model aliases. Every scenario runs on SQLite and on Postgres.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use base64::Engine as _;
use chrono::Utc;
use keyway_domain::{OrgId, Secret, Slug, Usd};
use keyway_store::aliases::ModelTarget;
use keyway_store::credentials::{CredentialId, CredentialUpdate, NewCredential, ProviderKind};
use keyway_store::entities::{organization, provider_credential};
use keyway_store::virtual_keys::{
    BudgetPeriod, KeyBudget, KeyLimits, KeyStatus, KeyUpdate, NewKey, VirtualKeyId, hash_key,
    is_well_formed_key,
};
use keyway_store::{Database, MasterKey, StoreError};
use rand::RngCore as _;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    IntoActiveModel, Statement,
};
use std::collections::BTreeMap;
use std::time::Duration;

const OPENAI_KEY: &str = "sk-proj-PLAINTEXT-canary-7f3e9a1b2c4d";

/// Runs each scenario once on a fresh SQLite file and once on a fresh Postgres database.
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
    sealed_secrets_open_only_untouched_and_in_place,
    master_key_rotation_rewraps,
    no_plaintext_secret_in_any_column,
    credentials_are_masked_and_slugs_unique_per_org,
    credentials_of_another_org_are_not_found,
    keys_are_found_by_hash_and_revocation_shows,
    keys_expire,
    rotation_keeps_the_old_secret_only_during_grace,
    disabled_org_shows_in_the_key_policy,
    keys_of_another_org_are_not_found,
    aliases_resolve_per_org,
    deleting_an_org_removes_its_tenant_data,
);

fn master_key() -> MasterKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    MasterKey::from_base64(&base64::engine::general_purpose::STANDARD.encode(bytes)).unwrap()
}

async fn org(db: &Database, slug: &str) -> OrgId {
    db.create_org(&Slug::parse(slug).unwrap(), slug)
        .await
        .unwrap()
        .id
}

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

fn openai(slug_name: &str, key: &str) -> NewCredential {
    NewCredential {
        name: format!("OpenAI {slug_name}"),
        slug: slug(slug_name),
        provider: ProviderKind::Openai,
        base_url: None,
        config: serde_json::json!({}),
        api_key: Secret::new(key.to_owned()),
    }
}

async fn raw_credential(db: &Database, id: CredentialId) -> provider_credential::Model {
    provider_credential::Entity::find_by_id(id.as_uuid())
        .one(db.conn())
        .await
        .unwrap()
        .unwrap()
}

/// Writes `model`'s sealed columns over the stored row, as an attacker with database access
/// (or a botched migration) would.
async fn overwrite(db: &Database, model: provider_credential::Model) {
    let mut active = model.clone().into_active_model();
    active.secret_ciphertext = Set(model.secret_ciphertext);
    active.secret_nonce = Set(model.secret_nonce);
    active.wrapped_key = Set(model.wrapped_key);
    active.key_nonce = Set(model.key_nonce);
    active.master_key_id = Set(model.master_key_id);
    active.reset_all().update(db.conn()).await.unwrap();
}

fn assert_crypto_error(result: Result<Secret<String>, StoreError>, what: &str) {
    match result {
        Err(StoreError::Crypto(message)) => assert!(!message.is_empty()),
        Err(other) => panic!("{what}: expected a crypto error, got {other:?}"),
        Ok(_) => panic!("{what}: a tampered secret opened"),
    }
}

async fn sealed_secrets_open_only_untouched_and_in_place(db: &Database) {
    let master = master_key();
    let acme = org(db, "acme").await;
    let globex = org(db, "globex").await;
    let a = db
        .create_credential(acme, openai("openai", OPENAI_KEY), &master)
        .await
        .unwrap();
    let b = db
        .create_credential(acme, openai("openai-2", "sk-second-key-000000000"), &master)
        .await
        .unwrap();
    let g = db
        .create_credential(globex, openai("openai", "sk-globex-key-11111111"), &master)
        .await
        .unwrap();
    let secret = db
        .credential_secret(acme, &slug("openai"), &master)
        .await
        .unwrap();
    assert_eq!(secret.expose(), OPENAI_KEY);
    assert_eq!(a.master_key_id, master.id());

    // A flipped byte in any sealed column fails to open, with a crypto error.
    let original = raw_credential(db, a.id).await;
    type Flip = fn(&mut provider_credential::Model);
    let flips: [(&str, Flip); 5] = [
        ("ciphertext", |m| m.secret_ciphertext[3] ^= 0x01),
        ("nonce", |m| m.secret_nonce[0] ^= 0x80),
        ("wrapped key", |m| m.wrapped_key[40] ^= 0x01),
        ("key nonce", |m| m.key_nonce[11] ^= 0x01),
        ("master key id", |m| {
            m.master_key_id.replace_range(0..1, "z")
        }),
    ];
    for (column, flip) in flips {
        let mut tampered = original.clone();
        flip(&mut tampered);
        assert_ne!(tampered, original);
        overwrite(db, tampered).await;
        assert_crypto_error(
            db.credential_secret(acme, &slug("openai"), &master).await,
            column,
        );
        overwrite(db, original.clone()).await;
        assert_eq!(
            db.credential_secret(acme, &slug("openai"), &master)
                .await
                .unwrap()
                .expose(),
            OPENAI_KEY
        );
    }

    // Sealed values moved to another row (same org, or another org) do not open there.
    let b_original = raw_credential(db, b.id).await;
    for (victim, victim_org, victim_slug) in [(b.id, acme, "openai-2"), (g.id, globex, "openai")] {
        let mut moved = raw_credential(db, victim).await;
        let keep = moved.clone();
        moved.secret_ciphertext = original.secret_ciphertext.clone();
        moved.secret_nonce = original.secret_nonce.clone();
        moved.wrapped_key = original.wrapped_key.clone();
        moved.key_nonce = original.key_nonce.clone();
        overwrite(db, moved).await;
        assert_crypto_error(
            db.credential_secret(victim_org, &slug(victim_slug), &master)
                .await,
            "moved ciphertext",
        );
        overwrite(db, keep).await;
    }
    assert_eq!(raw_credential(db, b.id).await, b_original);

    // Another master key cannot open it, and says which key the secret needs.
    let other = master_key();
    match db.credential_secret(acme, &slug("openai"), &other).await {
        Err(StoreError::Crypto(message)) => assert!(message.contains(master.id()), "{message}"),
        other => panic!("expected a crypto error, got {other:?}"),
    }
}

async fn master_key_rotation_rewraps(db: &Database) {
    let old = master_key();
    let new = master_key();
    let acme = org(db, "acme").await;
    let globex = org(db, "globex").await;
    let a = db
        .create_credential(acme, openai("openai", OPENAI_KEY), &old)
        .await
        .unwrap();
    db.create_credential(globex, openai("openai", "sk-globex-key-11111111"), &old)
        .await
        .unwrap();
    let before = raw_credential(db, a.id).await;

    assert_eq!(db.rewrap_credentials(&old, &new).await.unwrap(), 2);
    let after = raw_credential(db, a.id).await;
    assert_eq!(after.master_key_id, new.id());
    // Only the data key is re-wrapped; the secret's ciphertext is untouched.
    assert_eq!(after.secret_ciphertext, before.secret_ciphertext);
    assert_ne!(after.wrapped_key, before.wrapped_key);
    assert_eq!(
        db.credential_secret(acme, &slug("openai"), &new)
            .await
            .unwrap()
            .expose(),
        OPENAI_KEY
    );
    assert_eq!(
        db.credential_secret(globex, &slug("openai"), &new)
            .await
            .unwrap()
            .expose(),
        "sk-globex-key-11111111"
    );
    assert_crypto_error(
        db.credential_secret(acme, &slug("openai"), &old).await,
        "old master key after rotation",
    );
    // Running the rotation again finds nothing left under the old key.
    assert_eq!(db.rewrap_credentials(&old, &new).await.unwrap(), 0);
}

/// Every stored value of every table, as bytes (text as UTF-8, binary as is).
async fn every_stored_value(db: &Database) -> Vec<(String, String, Vec<u8>)> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let strings = |sql: String| async move {
        conn.query_all_raw(Statement::from_string(backend, sql))
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.try_get_by::<Option<String>, _>(0).unwrap())
            .collect::<Vec<_>>()
    };
    let tables: Vec<String> = match backend {
        DbBackend::Sqlite => {
            strings("SELECT name FROM sqlite_master WHERE type = 'table'".into()).await
        }
        _ => {
            strings(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = 'public'"
                    .into(),
            )
            .await
        }
    }
    .into_iter()
    .flatten()
    .collect();
    assert!(
        tables.iter().any(|t| t == "provider_credentials"),
        "{tables:?}"
    );
    let mut values = Vec::new();
    for table in tables {
        let columns: Vec<(String, String)> = match backend {
            DbBackend::Sqlite => strings(format!("SELECT name FROM pragma_table_info('{table}')"))
                .await
                .into_iter()
                .flatten()
                .map(|c| (format!("hex(\"{c}\")"), c))
                .collect(),
            _ => {
                let rows = conn
                    .query_all_raw(Statement::from_string(
                        backend,
                        format!(
                            "SELECT column_name::text, data_type::text FROM \
                             information_schema.columns WHERE table_name = '{table}'"
                        ),
                    ))
                    .await
                    .unwrap();
                rows.into_iter()
                    .map(|row| {
                        let name: String = row.try_get_by(0).unwrap();
                        let kind: String = row.try_get_by(1).unwrap();
                        let expr = if kind == "bytea" {
                            format!("encode(\"{name}\", 'hex')")
                        } else {
                            format!("encode(convert_to(\"{name}\"::text, 'UTF8'), 'hex')")
                        };
                        (expr, name)
                    })
                    .collect()
            }
        };
        for (expr, column) in columns {
            for value in strings(format!("SELECT {expr} FROM \"{table}\""))
                .await
                .into_iter()
                .flatten()
            {
                values.push((table.clone(), column.clone(), hex::decode(value).unwrap()));
            }
        }
    }
    values
}

fn columns_containing(values: &[(String, String, Vec<u8>)], needle: &str) -> Vec<String> {
    let encodings = [
        needle.as_bytes().to_vec(),
        hex::encode(needle).into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(needle)
            .into_bytes(),
    ];
    values
        .iter()
        .filter(|(_, _, bytes)| {
            encodings
                .iter()
                .any(|e| bytes.windows(e.len()).any(|w| w == e.as_slice()))
        })
        .map(|(table, column, _)| format!("{table}.{column}"))
        .collect()
}

async fn no_plaintext_secret_in_any_column(db: &Database) {
    let master = master_key();
    let acme = org(db, "acme").await;
    let mut new = openai("openai", OPENAI_KEY);
    new.name = "Canary credential name".into();
    let cred = db.create_credential(acme, new, &master).await.unwrap();
    let replacement = "sk-replacement-canary-0123456789";
    db.create_credential(acme, openai("spare", "sk-spare-canary-abcdefghij"), &master)
        .await
        .unwrap();
    let (_, key_secret) = db
        .issue_key(
            acme,
            NewKey {
                name: "canary key".into(),
                ..NewKey::default()
            },
        )
        .await
        .unwrap();

    let values = every_stored_value(db).await;
    // The scan does see what is stored in clear, so an empty result below means something.
    assert_eq!(
        columns_containing(&values, "Canary credential name"),
        vec!["provider_credentials.name".to_owned()]
    );
    assert!(columns_containing(&values, OPENAI_KEY).is_empty());
    assert!(columns_containing(&values, "sk-spare-canary-abcdefghij").is_empty());
    assert!(columns_containing(&values, key_secret.expose()).is_empty());
    assert!(!columns_containing(&values, &hash_key(key_secret.expose())).is_empty());

    db.update_credential(
        acme,
        cred.id,
        CredentialUpdate {
            api_key: Some(Secret::new(replacement.to_owned())),
            ..CredentialUpdate::default()
        },
        &master,
    )
    .await
    .unwrap();
    let values = every_stored_value(db).await;
    assert!(columns_containing(&values, replacement).is_empty());
    assert!(columns_containing(&values, OPENAI_KEY).is_empty());
}

async fn credentials_are_masked_and_slugs_unique_per_org(db: &Database) {
    let master = master_key();
    let acme = org(db, "acme").await;
    let globex = org(db, "globex").await;
    let created = db
        .create_credential(
            acme,
            NewCredential {
                name: "Azure prod".into(),
                slug: slug("azure-prod"),
                provider: ProviderKind::AzureOpenai,
                base_url: Some("https://acme.openai.azure.com".into()),
                config: serde_json::json!({"api_version": "2024-10-21", "deployment": "gpt4o"}),
                api_key: Secret::new("azure-key-abcdef-9876".into()),
            },
            &master,
        )
        .await
        .unwrap();
    assert_eq!(created.key_last4, "9876");
    assert_eq!(created.masked_key(), "****9876");
    assert_eq!(created.provider, ProviderKind::AzureOpenai);
    assert!(!format!("{created:?}").contains("azure-key-abcdef"));
    assert!(
        !serde_json::to_string(&created)
            .unwrap()
            .contains("azure-key-abcdef")
    );

    // A short key shows none of itself.
    let ollama = db
        .create_credential(
            acme,
            NewCredential {
                name: "Local".into(),
                slug: slug("local"),
                provider: ProviderKind::Ollama,
                base_url: Some("http://127.0.0.1:11434".into()),
                config: serde_json::json!({}),
                api_key: Secret::new("short".into()),
            },
            &master,
        )
        .await
        .unwrap();
    assert_eq!(ollama.masked_key(), "****");

    let listed = db.list_credentials(acme).await.unwrap();
    assert_eq!(listed, vec![created.clone(), ollama.clone()]);
    assert_eq!(
        db.credential(acme, created.id).await.unwrap().as_ref(),
        Some(&created)
    );
    assert_eq!(
        db.credential_by_slug(acme, &slug("azure-prod"))
            .await
            .unwrap()
            .as_ref(),
        Some(&created)
    );

    // Same slug in the same org: conflict; in another org: fine.
    let taken = db
        .create_credential(acme, openai("azure-prod", "sk-whatever-000000000"), &master)
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "{taken:?}");
    db.create_credential(globex, openai("azure-prod", "sk-globex-000000000"), &master)
        .await
        .unwrap();

    // Bad input is refused with a reason.
    let mut bad = openai("bad", "sk-bad-00000000000");
    bad.base_url = Some("file:///etc/passwd".into());
    assert!(matches!(
        db.create_credential(acme, bad, &master).await,
        Err(StoreError::Invalid(_))
    ));
    let mut bad = openai("bad", "sk-bad-00000000000");
    bad.config = serde_json::json!(["not", "an", "object"]);
    assert!(matches!(
        db.create_credential(acme, bad, &master).await,
        Err(StoreError::Invalid(_))
    ));

    // Update: name, base URL, config and a new key (re-sealed, new last4).
    let updated = db
        .update_credential(
            acme,
            created.id,
            CredentialUpdate {
                name: Some("Azure EU".into()),
                base_url: Some(None),
                config: Some(serde_json::json!({"api_version": "2025-01-01"})),
                api_key: Some(Secret::new("azure-key-rotated-4321".into())),
            },
            &master,
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Azure EU");
    assert_eq!(updated.base_url, None);
    assert_eq!(updated.config["api_version"], "2025-01-01");
    assert_eq!(updated.key_last4, "4321");
    assert!(updated.updated_at >= created.updated_at);
    assert_eq!(
        db.credential_secret(acme, &slug("azure-prod"), &master)
            .await
            .unwrap()
            .expose(),
        "azure-key-rotated-4321"
    );
    let (with_secret, secret) = db
        .credential_with_secret(acme, &slug("azure-prod"), &master)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(with_secret, updated);
    assert_eq!(secret.expose(), "azure-key-rotated-4321");

    // Updating without a key keeps the key.
    db.update_credential(
        acme,
        created.id,
        CredentialUpdate {
            name: Some("Azure EU 2".into()),
            ..CredentialUpdate::default()
        },
        &master,
    )
    .await
    .unwrap();
    assert_eq!(
        db.credential_secret(acme, &slug("azure-prod"), &master)
            .await
            .unwrap()
            .expose(),
        "azure-key-rotated-4321"
    );

    db.delete_credential(acme, created.id).await.unwrap();
    assert_eq!(db.credential(acme, created.id).await.unwrap(), None);
    assert!(matches!(
        db.delete_credential(acme, created.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(db.list_credentials(acme).await.unwrap(), vec![ollama]);
}

async fn credentials_of_another_org_are_not_found(db: &Database) {
    let master = master_key();
    let acme = org(db, "acme").await;
    let intruder = org(db, "intruder").await;
    let cred = db
        .create_credential(acme, openai("openai", OPENAI_KEY), &master)
        .await
        .unwrap();

    assert_eq!(db.credential(intruder, cred.id).await.unwrap(), None);
    assert_eq!(
        db.credential_by_slug(intruder, &slug("openai"))
            .await
            .unwrap(),
        None
    );
    assert!(db.list_credentials(intruder).await.unwrap().is_empty());
    assert!(
        db.credential_with_secret(intruder, &slug("openai"), &master)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        db.credential_secret(intruder, &slug("openai"), &master)
            .await,
        Err(StoreError::NotFound(_))
    ));
    let update = CredentialUpdate {
        name: Some("hijacked".into()),
        api_key: Some(Secret::new("sk-attacker-0000000000".into())),
        ..CredentialUpdate::default()
    };
    assert!(matches!(
        db.update_credential(intruder, cred.id, update, &master)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        db.delete_credential(intruder, cred.id).await,
        Err(StoreError::NotFound(_))
    ));
    // Nothing changed for the owner.
    assert_eq!(db.credential(acme, cred.id).await.unwrap(), Some(cred));
    assert_eq!(
        db.credential_secret(acme, &slug("openai"), &master)
            .await
            .unwrap()
            .expose(),
        OPENAI_KEY
    );
}

fn scoped_key() -> NewKey {
    NewKey {
        name: "backend".into(),
        team_id: Some(uuid::Uuid::now_v7()),
        allowed_models: vec!["openai/gpt-4o-mini".into(), "fast".into()],
        allowed_providers: vec![slug("openai")],
        limits: KeyLimits {
            rpm: Some(60),
            tpm: Some(100_000),
        },
        budget: Some(KeyBudget {
            limit: Usd::from_nanos(5 * Usd::NANOS_PER_USD),
            period: BudgetPeriod::Monthly,
        }),
        metadata: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
        default_config_id: Some(uuid::Uuid::now_v7()),
        guardrails: vec![],
        expires_at: None,
    }
}

async fn keys_are_found_by_hash_and_revocation_shows(db: &Database) {
    let acme = org(db, "acme").await;
    let (key, secret) = db.issue_key(acme, scoped_key()).await.unwrap();
    assert!(is_well_formed_key(secret.expose()));
    assert!(secret.expose().starts_with("kw-"));
    assert_eq!(secret.expose().len(), 43);
    assert_eq!(key.prefix, secret.expose()[..12]);
    assert_eq!(key.org_id, acme);
    assert_eq!(key.limits.rpm, Some(60));
    assert!(!format!("{key:?}").contains(secret.expose()));

    let policy = db
        .key_by_hash(&hash_key(secret.expose()))
        .await
        .unwrap()
        .expect("issued key is found by its hash");
    assert_eq!(policy.key_id, key.id);
    assert_eq!(policy.org_id, acme);
    assert_eq!(policy.team_id, key.team_id);
    assert_eq!(policy.allowed_models, key.allowed_models);
    assert_eq!(policy.allowed_providers, vec![slug("openai")]);
    assert_eq!(policy.limits, key.limits);
    assert_eq!(policy.budget, key.budget);
    assert_eq!(policy.default_config_id, key.default_config_id);
    assert_eq!(policy.metadata["env"], "prod");
    assert!(!policy.revoked && !policy.org_disabled);
    assert_eq!(policy.status_at(Utc::now()), KeyStatus::Active);
    assert!(policy.allows_model("openai/gpt-4o-mini"));
    assert!(!policy.allows_model("openai/gpt-4o"));
    assert!(policy.allows_provider("openai") && !policy.allows_provider("anthropic"));

    // A wrong secret (one character off) and a made-up hash find nothing.
    let mut wrong = secret.expose().clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'a' { 'b' } else { 'a' });
    assert!(db.key_by_hash(&hash_key(&wrong)).await.unwrap().is_none());
    assert!(db.key_by_hash(&"0".repeat(64)).await.unwrap().is_none());

    assert_eq!(db.list_keys(acme).await.unwrap(), vec![key.clone()]);
    assert_eq!(db.get_key(acme, key.id).await.unwrap(), Some(key.clone()));

    let updated = db
        .update_key(
            acme,
            key.id,
            KeyUpdate {
                name: Some("backend v2".into()),
                allowed_models: Some(vec![]),
                limits: Some(KeyLimits {
                    rpm: Some(10),
                    tpm: None,
                }),
                budget: Some(None),
                ..KeyUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "backend v2");
    assert!(updated.allowed_models.is_empty());
    assert_eq!(updated.budget, None);
    assert_eq!(updated.allowed_providers, key.allowed_providers);
    let policy = db
        .key_by_hash(&hash_key(secret.expose()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(policy.limits.rpm, Some(10));
    assert!(policy.allows_model("anthropic/claude"));

    let revoked = db.revoke_key(acme, key.id).await.unwrap();
    let revoked_at = revoked.revoked_at.expect("revocation time is recorded");
    let policy = db
        .key_by_hash(&hash_key(secret.expose()))
        .await
        .unwrap()
        .unwrap();
    assert!(policy.revoked);
    assert_eq!(policy.status_at(Utc::now()), KeyStatus::Revoked);
    // Revoking again keeps the first time; a revoked key cannot be rotated back to life.
    let again = db.revoke_key(acme, key.id).await.unwrap();
    assert_eq!(again.revoked_at, Some(revoked_at));
    assert!(matches!(
        db.rotate_key(acme, key.id, Duration::from_secs(60)).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn keys_expire(db: &Database) {
    let acme = org(db, "acme").await;
    let past = NewKey {
        name: "already expired".into(),
        expires_at: Some(Utc::now() - chrono::Duration::seconds(1)),
        ..NewKey::default()
    };
    assert!(matches!(
        db.issue_key(acme, past).await,
        Err(StoreError::Invalid(_))
    ));

    let expires_at = Utc::now() + chrono::Duration::milliseconds(800);
    let (_, secret) = db
        .issue_key(
            acme,
            NewKey {
                name: "short-lived".into(),
                expires_at: Some(expires_at),
                ..NewKey::default()
            },
        )
        .await
        .unwrap();
    let hash = hash_key(secret.expose());
    let policy = db.key_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!(policy.status_at(Utc::now()), KeyStatus::Active);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let policy = db.key_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!(policy.status_at(Utc::now()), KeyStatus::Expired);
}

async fn rotation_keeps_the_old_secret_only_during_grace(db: &Database) {
    let acme = org(db, "acme").await;
    let (key, old) = db.issue_key(acme, scoped_key()).await.unwrap();
    let (rotated, new) = db
        .rotate_key(acme, key.id, Duration::from_millis(1200))
        .await
        .unwrap();
    assert_ne!(old.expose(), new.expose());
    assert_eq!(rotated.id, key.id);
    assert_eq!(rotated.prefix, new.expose()[..12]);
    assert!(rotated.previous_secret_expires_at.is_some());

    let by_old = db
        .key_by_hash(&hash_key(old.expose()))
        .await
        .unwrap()
        .expect("old secret works during grace");
    let by_new = db
        .key_by_hash(&hash_key(new.expose()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_old.key_id, key.id);
    assert_eq!(by_new.key_id, key.id);
    assert_eq!(by_old.status_at(Utc::now()), KeyStatus::Active);
    assert!(by_old.grace_ends_at.is_some() && by_new.grace_ends_at.is_none());

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        db.key_by_hash(&hash_key(old.expose()))
            .await
            .unwrap()
            .is_none(),
        "old secret still works after the grace period"
    );
    // A policy cached during the grace stops admitting once it ends.
    assert_eq!(by_old.status_at(Utc::now()), KeyStatus::Expired);
    let by_new = db
        .key_by_hash(&hash_key(new.expose()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_new.status_at(Utc::now()), KeyStatus::Active);

    // Without grace the old secret stops at once.
    let (_, newest) = db.rotate_key(acme, key.id, Duration::ZERO).await.unwrap();
    assert!(
        db.key_by_hash(&hash_key(new.expose()))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.key_by_hash(&hash_key(newest.expose()))
            .await
            .unwrap()
            .is_some()
    );
}

async fn disabled_org_shows_in_the_key_policy(db: &Database) {
    let acme = org(db, "acme").await;
    let other = org(db, "other").await;
    let (_, secret) = db.issue_key(acme, scoped_key()).await.unwrap();
    let (_, other_secret) = db.issue_key(other, scoped_key()).await.unwrap();
    let hash = hash_key(secret.expose());

    db.set_org_disabled(acme, true).await.unwrap();
    let policy = db.key_by_hash(&hash).await.unwrap().unwrap();
    assert!(policy.org_disabled);
    assert_eq!(policy.status_at(Utc::now()), KeyStatus::OrgDisabled);
    let unaffected = db
        .key_by_hash(&hash_key(other_secret.expose()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unaffected.status_at(Utc::now()), KeyStatus::Active);

    db.set_org_disabled(acme, false).await.unwrap();
    let policy = db.key_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!(policy.status_at(Utc::now()), KeyStatus::Active);
    assert!(matches!(
        db.set_org_disabled(OrgId::new(), true).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn keys_of_another_org_are_not_found(db: &Database) {
    let acme = org(db, "acme").await;
    let intruder = org(db, "intruder").await;
    let (key, secret) = db.issue_key(acme, scoped_key()).await.unwrap();

    assert_eq!(db.get_key(intruder, key.id).await.unwrap(), None);
    assert!(db.list_keys(intruder).await.unwrap().is_empty());
    let update = KeyUpdate {
        allowed_models: Some(vec![]),
        ..KeyUpdate::default()
    };
    assert!(matches!(
        db.update_key(intruder, key.id, update).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        db.revoke_key(intruder, key.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        db.rotate_key(intruder, key.id, Duration::from_secs(60))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        db.get_key(acme, VirtualKeyId::new()).await,
        Ok(None)
    ));
    // The owner's key is untouched and still works.
    assert_eq!(db.get_key(acme, key.id).await.unwrap(), Some(key));
    let policy = db
        .key_by_hash(&hash_key(secret.expose()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(policy.status_at(Utc::now()), KeyStatus::Active);
    assert!(!policy.allowed_models.is_empty());
    // Issuing into an organization that does not exist fails cleanly.
    assert!(matches!(
        db.issue_key(OrgId::new(), scoped_key()).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn aliases_resolve_per_org(db: &Database) {
    let acme = org(db, "acme").await;
    let globex = org(db, "globex").await;
    let target = ModelTarget::parse("openai/gpt-4o-mini").unwrap();
    let created = db.create_alias(acme, "fast", &target).await.unwrap();
    assert_eq!(created.target, target);
    assert_eq!(
        db.resolve_alias(acme, "fast").await.unwrap(),
        Some(target.clone())
    );
    assert_eq!(db.resolve_alias(globex, "fast").await.unwrap(), None);
    assert_eq!(db.resolve_alias(acme, "slow").await.unwrap(), None);

    // The same name means something else in another org.
    let theirs = ModelTarget::parse("anthropic/claude-3-5-haiku").unwrap();
    db.create_alias(globex, "fast", &theirs).await.unwrap();
    assert_eq!(
        db.resolve_alias(globex, "fast").await.unwrap(),
        Some(theirs)
    );
    assert_eq!(
        db.resolve_alias(acme, "fast").await.unwrap(),
        Some(target.clone())
    );

    assert!(matches!(
        db.create_alias(acme, "fast", &target).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        db.create_alias(acme, "openai/gpt-4o", &target).await,
        Err(StoreError::Invalid(_))
    ));
    db.create_alias(acme, "cheap", &target).await.unwrap();
    let names: Vec<String> = db
        .list_aliases(acme)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.alias)
        .collect();
    assert_eq!(names, ["cheap", "fast"]);

    assert!(matches!(
        db.delete_alias(globex, "cheap").await,
        Err(StoreError::NotFound(_))
    ));
    db.delete_alias(acme, "fast").await.unwrap();
    assert_eq!(db.resolve_alias(acme, "fast").await.unwrap(), None);
    assert!(db.resolve_alias(globex, "fast").await.unwrap().is_some());
}

async fn deleting_an_org_removes_its_tenant_data(db: &Database) {
    let master = master_key();
    let acme = org(db, "acme").await;
    let keep = org(db, "keep").await;
    db.create_credential(acme, openai("openai", OPENAI_KEY), &master)
        .await
        .unwrap();
    let (_, secret) = db.issue_key(acme, scoped_key()).await.unwrap();
    db.create_alias(acme, "fast", &ModelTarget::parse("openai/gpt-4o").unwrap())
        .await
        .unwrap();
    db.create_credential(keep, openai("openai", "sk-keep-000000000000"), &master)
        .await
        .unwrap();
    let (_, kept_secret) = db.issue_key(keep, scoped_key()).await.unwrap();

    let delete = Query::delete()
        .from_table(organization::Entity)
        .and_where(organization::Column::Id.eq(acme.as_uuid()))
        .to_owned();
    db.conn().execute(&delete).await.unwrap();

    assert!(db.list_credentials(acme).await.unwrap().is_empty());
    assert!(db.list_keys(acme).await.unwrap().is_empty());
    assert!(db.list_aliases(acme).await.unwrap().is_empty());
    assert!(
        db.key_by_hash(&hash_key(secret.expose()))
            .await
            .unwrap()
            .is_none()
    );
    let leftover = provider_credential::Entity::find()
        .all(db.conn())
        .await
        .unwrap();
    assert_eq!(leftover.len(), 1, "only the other org's credential remains");
    assert!(
        db.key_by_hash(&hash_key(kept_secret.expose()))
            .await
            .unwrap()
            .is_some()
    );
}
