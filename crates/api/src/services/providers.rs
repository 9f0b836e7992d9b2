//! Provider credentials (BYOK): read masked (any member), create / change / delete (admin).
//! The key is write-only and sealed before it reaches the database; the base URL must pass the
//! gateway's SSRF policy.

use super::OrgCtx;
use crate::{ApiError, ApiState};
use keyway_domain::{CredentialId, Role, Secret, Slug};
use keyway_store::credentials::{
    CredentialUpdate, NewCredential, ProviderCredential, ProviderKind,
};
use serde_json::json;

/// What a new credential carries.
pub struct CreateProvider {
    /// Display name.
    pub name: String,
    /// Handle used in model names.
    pub slug: String,
    /// Provider kind.
    pub provider: String,
    /// The provider key.
    pub api_key: Secret<String>,
    /// Base URL override.
    pub base_url: Option<String>,
    /// Provider-specific settings (object).
    pub config: Option<serde_json::Value>,
}

fn check_base_url(state: &ApiState, base_url: &str) -> Result<(), ApiError> {
    let url = url::Url::parse(base_url)
        .map_err(|e| ApiError::BadRequest(format!("base_url: not a URL ({e})")))?;
    keyway_gateway::upstream::check_url(&url, state.allow_private_upstreams)
        .map_err(|e| ApiError::BadRequest(format!("base_url: {e}")))
}

fn check_config(config: &serde_json::Value) -> Result<(), ApiError> {
    if !config.is_object() {
        return Err(ApiError::BadRequest("config must be a JSON object".into()));
    }
    Ok(())
}

fn summary(c: &ProviderCredential) -> serde_json::Value {
    json!({
        "name": c.name, "slug": c.slug.as_str(), "provider": c.provider.as_str(),
        "base_url": c.base_url, "api_key": c.masked_key(),
    })
}

/// Credentials of the organization, keys masked.
pub async fn list(state: &ApiState, ctx: &OrgCtx) -> Result<Vec<ProviderCredential>, ApiError> {
    Ok(state.db.list_credentials(ctx.org_id).await?)
}

/// One credential, key masked.
pub async fn get(
    state: &ApiState,
    ctx: &OrgCtx,
    id: CredentialId,
) -> Result<ProviderCredential, ApiError> {
    state
        .db
        .credential(ctx.org_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Stores a credential.
pub async fn create(
    state: &ApiState,
    ctx: &OrgCtx,
    new: CreateProvider,
) -> Result<ProviderCredential, ApiError> {
    ctx.require(Role::Admin, "adding provider credentials")?;
    let name = super::clean_name(&new.name, "name")?;
    let slug = Slug::parse(&new.slug).map_err(|e| ApiError::BadRequest(format!("slug: {e}")))?;
    let provider = ProviderKind::parse(&new.provider).map_err(|_| {
        ApiError::BadRequest(format!(
            "provider: unknown {:?}; expected one of {}",
            new.provider,
            ProviderKind::ALL.map(ProviderKind::as_str).join(", ")
        ))
    })?;
    if let Some(url) = &new.base_url {
        check_base_url(state, url)?;
    }
    let config = new.config.unwrap_or_else(|| json!({}));
    check_config(&config)?;
    if new.api_key.expose().len() > 4096 {
        return Err(ApiError::BadRequest("api_key is too long".into()));
    }
    let created = state
        .db
        .create_credential(
            ctx.org_id,
            NewCredential {
                name,
                slug,
                provider,
                base_url: new.base_url,
                config,
                api_key: new.api_key,
            },
            &state.master_key,
        )
        .await
        .map_err(|e| match e {
            keyway_store::StoreError::Conflict(_) => {
                ApiError::Conflict("this organization already has a provider with that slug".into())
            }
            other => other.into(),
        })?;
    ctx.audit(
        state,
        "provider.create",
        "provider",
        created.id,
        summary(&created),
    )
    .await?;
    ctx.notify_gateways(state).await;
    Ok(created)
}

/// Changes a credential; a new key is sealed afresh.
pub async fn update(
    state: &ApiState,
    ctx: &OrgCtx,
    id: CredentialId,
    update: CredentialUpdate,
) -> Result<ProviderCredential, ApiError> {
    ctx.require(Role::Admin, "changing provider credentials")?;
    if let Some(Some(url)) = &update.base_url {
        check_base_url(state, url)?;
    }
    if let Some(config) = &update.config {
        check_config(config)?;
    }
    let mut update = update;
    if let Some(name) = &update.name {
        update.name = Some(super::clean_name(name, "name")?);
    }
    let before = get(state, ctx, id).await?;
    let after = state
        .db
        .update_credential(ctx.org_id, id, update, &state.master_key)
        .await?;
    ctx.audit(
        state,
        "provider.update",
        "provider",
        id,
        json!({"before": summary(&before), "after": summary(&after)}),
    )
    .await?;
    ctx.notify_gateways(state).await;
    Ok(after)
}

/// Deletes a credential.
pub async fn delete(state: &ApiState, ctx: &OrgCtx, id: CredentialId) -> Result<(), ApiError> {
    ctx.require(Role::Admin, "deleting provider credentials")?;
    let before = get(state, ctx, id).await?;
    state.db.delete_credential(ctx.org_id, id).await?;
    ctx.audit(state, "provider.delete", "provider", id, summary(&before))
        .await?;
    ctx.notify_gateways(state).await;
    Ok(())
}
