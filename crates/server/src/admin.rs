//! `keyway admin …`: operator commands against the control-plane store, for self-hosters and
//! scripts until (and alongside) the REST control plane. They use the same settings, database
//! and master key as `keyway serve`, so point them at the same data directory or database.

use crate::Services;
use clap::Subcommand;
use keyway_domain::{Secret, Slug};
use keyway_store::MasterKey;
use keyway_store::credentials::{NewCredential, ProviderKind};
use keyway_store::orgs::Organization;
use keyway_store::virtual_keys::NewKey;

/// Operator commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Creates an organization; prints its id.
    CreateOrg {
        /// URL-safe handle (a-z, 0-9, '-').
        slug: String,
        /// Display name [default: the slug].
        #[arg(long)]
        name: Option<String>,
    },
    /// Stores a provider credential (encrypted); prints its id.
    AddProvider {
        /// Organization slug.
        #[arg(long)]
        org: String,
        /// Credential slug, used in model names as `<slug>/<model>`.
        #[arg(long)]
        slug: String,
        /// Provider kind: openai, azure-openai, anthropic, gemini, bedrock, cohere, mistral, groq,
        /// … , openai-compatible, mock.
        #[arg(long)]
        kind: String,
        /// Base URL override (required for openai-compatible and mock).
        #[arg(long)]
        base_url: Option<String>,
        /// Name of the environment variable holding the provider's API key (keeps the key out
        /// of the process list and shell history).
        #[arg(long)]
        api_key_env: String,
        /// Provider settings as a JSON object, e.g. `{"region": "us-east-1"}` for Bedrock or
        /// `{"api_version": "2024-10-21"}` for Azure OpenAI.
        /// (`--config` is the global settings-file flag.)
        #[arg(long, default_value = "{}")]
        provider_config: String,
    },
    /// Issues a virtual key; prints the secret (shown once; only its hash is stored).
    IssueKey {
        /// Organization slug.
        #[arg(long)]
        org: String,
        /// Key name.
        #[arg(long, default_value = "default")]
        name: String,
        /// Models the key may use (`slug/model` or `slug/*`); repeat or comma-separate. Default: all.
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
    },
    /// Rotates the master key: re-wraps every stored secret's data key under a new master key.
    /// With a configured `KEYWAY_MASTER_KEY`, set it to the new key afterwards (generated keys
    /// are printed once); with the data directory's key file, the file is replaced. Running it
    /// again with the same new key finishes an interrupted rotation.
    RotateMasterKey {
        /// Environment variable holding the new key (base64 of 32 bytes); omitted, a random
        /// key is generated.
        #[arg(long)]
        new_key_env: Option<String>,
    },
}

/// Runs one admin command and prints its result on stdout.
pub async fn run(services: &Services, command: AdminCommand) -> anyhow::Result<()> {
    let db = &services.db;
    match command {
        AdminCommand::CreateOrg { slug, name } => {
            let slug = Slug::parse(&slug)?;
            let org = db
                .create_org(&slug, name.as_deref().unwrap_or(slug.as_str()))
                .await?;
            println!("{}", org.id);
        }
        AdminCommand::AddProvider {
            org,
            slug,
            kind,
            base_url,
            api_key_env,
            provider_config,
        } => {
            let config: serde_json::Value = serde_json::from_str(&provider_config)
                .map_err(|e| anyhow::anyhow!("--provider-config is not JSON: {e}"))?;
            let org = find_org(services, &org).await?;
            let api_key = std::env::var(&api_key_env)
                .map_err(|_| anyhow::anyhow!("environment variable {api_key_env} is not set"))?;
            let credential = NewCredential {
                name: slug.clone(),
                slug: Slug::parse(&slug)?,
                provider: ProviderKind::parse(&kind)?,
                base_url,
                config,
                api_key: Secret::new(api_key),
            };
            let created = db
                .create_credential(org.id, credential, &services.master_key)
                .await?;
            println!("{}", created.id);
        }
        AdminCommand::IssueKey { org, name, models } => {
            let org = find_org(services, &org).await?;
            let params = NewKey {
                name,
                allowed_models: models,
                ..NewKey::default()
            };
            let (_key, secret) = db.issue_key(org.id, params).await?;
            println!("{}", secret.expose());
        }
        AdminCommand::RotateMasterKey { new_key_env } => {
            rotate_master_key(services, new_key_env.as_deref()).await?;
        }
    }
    Ok(())
}

async fn rotate_master_key(services: &Services, new_key_env: Option<&str>) -> anyhow::Result<()> {
    let (new, generated) = match new_key_env {
        Some(var) => {
            let text = std::env::var(var)
                .map_err(|_| anyhow::anyhow!("environment variable {var} is not set"))?;
            (MasterKey::from_base64(&text)?, false)
        }
        None => (MasterKey::generate(), true),
    };
    let old = &services.master_key;
    if new.id() == old.id() {
        anyhow::bail!("the new master key is the current one");
    }
    let count = services.db.rewrap_credentials(old, &new).await?;
    eprintln!(
        "re-wrapped {count} provider credential(s) from master key {} to {}",
        old.id(),
        new.id()
    );
    if services.settings.security.master_key.is_some() {
        eprintln!("set KEYWAY_MASTER_KEY to the new key on every Keyway process and restart them");
        if generated {
            println!("{}", new.to_base64().expose());
        }
    } else {
        let path = new.replace_file(&services.settings.server.data_dir)?;
        eprintln!("new master key written to {}", path.display());
    }
    Ok(())
}

async fn find_org(services: &Services, slug: &str) -> anyhow::Result<Organization> {
    services
        .db
        .org_by_slug(&Slug::parse(slug)?)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no organization with slug `{slug}`"))
}
