//! Guardrails: read and test (any member), create / new version / new slug / delete (admin).
//!
//! Every definition is validated with [`Guardrail::parse`] before it is stored, so the gateway
//! never meets a stored guardrail it cannot load; a validation error is a 400 whose message names
//! the JSON path (`checks[1].check.max: must be >= min`). Versions are immutable: a change writes
//! version n+1 and leaves the older ones readable. Gateways are told of every change, so a new
//! version applies within seconds.

use super::OrgCtx;
use crate::{ApiError, ApiState};
use keyway_domain::guardrails::{Action, Guardrail, Stage, Verdict, named_ids};
use keyway_domain::routing::RoutingConfig;
use keyway_domain::{Role, Slug};
use keyway_store::StoreError;
use keyway_store::guardrails::{GuardrailRecord, GuardrailVersion};
use serde_json::json;
use uuid::Uuid;

/// Largest definition accepted, in bytes of JSON.
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;
/// Largest text the test endpoint checks, in bytes.
pub const MAX_TEST_TEXT_BYTES: usize = 1024 * 1024;

/// Parses a definition, or a 400 naming the JSON path of each problem.
pub fn parse_definition(definition: &serde_json::Value) -> Result<Guardrail, ApiError> {
    let size = serde_json::to_vec(definition).map(|v| v.len()).unwrap_or(0);
    if size > MAX_DEFINITION_BYTES {
        return Err(ApiError::BadRequest(format!(
            "definition: {size} bytes is more than the {MAX_DEFINITION_BYTES} allowed"
        )));
    }
    Guardrail::parse(definition)
        .map_err(|errors| ApiError::BadRequest(format!("invalid guardrail: {errors}")))
}

fn slug(value: &str) -> Result<Slug, ApiError> {
    Slug::parse(value).map_err(|e| ApiError::BadRequest(format!("slug: {e}")))
}

fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict("guardrail slug") => {
            ApiError::Conflict("a guardrail with this slug already exists".into())
        }
        StoreError::Conflict(_) => ApiError::Conflict(
            "the guardrail was changed concurrently; read it again and retry".into(),
        ),
        other => other.into(),
    }
}

/// Guardrails of the organization, each with its newest version.
pub async fn list(state: &ApiState, ctx: &OrgCtx) -> Result<Vec<GuardrailRecord>, ApiError> {
    Ok(state.db.list_guardrails(ctx.org_id).await?)
}

/// One guardrail with its newest version.
pub async fn get(state: &ApiState, ctx: &OrgCtx, id: Uuid) -> Result<GuardrailRecord, ApiError> {
    state
        .db
        .get_guardrail(ctx.org_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Every version of one guardrail, newest first.
pub async fn versions(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
) -> Result<Vec<GuardrailVersion>, ApiError> {
    Ok(state.db.list_guardrail_versions(ctx.org_id, id).await?)
}

/// Creates a guardrail (version 1).
pub async fn create(
    state: &ApiState,
    ctx: &OrgCtx,
    slug_text: &str,
    definition: serde_json::Value,
) -> Result<GuardrailRecord, ApiError> {
    ctx.require(Role::Admin, "creating guardrails")?;
    let slug = slug(slug_text)?;
    parse_definition(&definition)?;
    let record = state
        .db
        .create_guardrail(
            ctx.org_id,
            slug.as_str(),
            definition,
            Some(ctx.caller.user.id),
        )
        .await
        .map_err(conflict)?;
    ctx.audit(
        state,
        "guardrail.create",
        "guardrail",
        record.id,
        json!({"slug": record.slug, "version": record.version}),
    )
    .await?;
    Ok(record)
}

/// Changes a guardrail's slug and/or writes a new version of it.
pub async fn update(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
    new_slug: Option<String>,
    definition: Option<serde_json::Value>,
) -> Result<GuardrailRecord, ApiError> {
    ctx.require(Role::Admin, "changing guardrails")?;
    let before = get(state, ctx, id).await?;
    let new_slug = new_slug.as_deref().map(slug).transpose()?;
    if new_slug.is_none() && definition.is_none() {
        return Err(ApiError::BadRequest(
            "give a new slug, a new definition, or both".into(),
        ));
    }
    if let Some(definition) = &definition {
        parse_definition(definition)?;
    }
    let after = state
        .db
        .update_guardrail(
            ctx.org_id,
            id,
            new_slug.as_ref().map(Slug::as_str),
            definition,
            Some(ctx.caller.user.id),
        )
        .await
        .map_err(conflict)?;
    ctx.notify_gateways(state).await;
    ctx.audit(
        state,
        "guardrail.update",
        "guardrail",
        id,
        json!({
            "before": {"slug": before.slug, "version": before.version},
            "after": {"slug": after.slug, "version": after.version},
        }),
    )
    .await?;
    Ok(after)
}

/// Deletes a guardrail and its versions; refused while a key attaches it, a routing config
/// names it, or a prompt's newest or labelled version names it.
pub async fn delete(state: &ApiState, ctx: &OrgCtx, id: Uuid) -> Result<(), ApiError> {
    ctx.require(Role::Admin, "deleting guardrails")?;
    let guardrail = get(state, ctx, id).await?;
    let users = state.db.keys_using_guardrail(ctx.org_id, id).await?;
    if !users.is_empty() {
        return Err(ApiError::Conflict(format!(
            "{} virtual key(s) attach this guardrail; detach it first",
            users.len()
        )));
    }
    let naming: Vec<String> = state
        .db
        .list_routing_configs(ctx.org_id)
        .await?
        .into_iter()
        .filter(|c| {
            RoutingConfig::from_value(c.config.clone()).is_ok_and(|parsed| {
                let root = parsed.root();
                named_ids(root.input_guardrails.as_ref()).contains(&id)
                    || named_ids(root.output_guardrails.as_ref()).contains(&id)
            })
        })
        .map(|c| c.name)
        .collect();
    if !naming.is_empty() {
        return Err(ApiError::Conflict(format!(
            "routing config(s) {} name this guardrail; change them first",
            naming.join(", ")
        )));
    }
    let prompts: Vec<String> = super::prompts::live_versions(state, ctx)
        .await?
        .into_iter()
        .filter(|(_, v)| v.template.guardrails.contains(&id))
        .map(|(prompt, v)| format!("{prompt} v{}", v.version))
        .collect();
    if !prompts.is_empty() {
        return Err(ApiError::Conflict(format!(
            "prompt version(s) {} name this guardrail; write or label versions without it first",
            prompts.join(", ")
        )));
    }
    state.db.delete_guardrail(ctx.org_id, id).await?;
    ctx.notify_gateways(state).await;
    ctx.audit(
        state,
        "guardrail.delete",
        "guardrail",
        id,
        json!({"slug": guardrail.slug, "version": guardrail.version}),
    )
    .await?;
    Ok(())
}

/// What a test run found: the text as the gateway would pass it on, and every verdict.
#[derive(Debug)]
pub struct TestRun {
    /// The text after redactions.
    pub text: String,
    /// One verdict per check of the stage, in order.
    pub verdicts: Vec<Verdict>,
    /// Whether a failed `deny` check would refuse the request.
    pub denied: bool,
}

/// Runs `guardrail`'s checks of stage `on` on `text` (any member; nothing is stored).
pub fn test(
    ctx: &OrgCtx,
    guardrail: &Guardrail,
    on: Stage,
    text: String,
    model: &str,
) -> Result<TestRun, ApiError> {
    ctx.require(Role::Viewer, "testing guardrails")?;
    if text.len() > MAX_TEST_TEXT_BYTES {
        return Err(ApiError::BadRequest(format!(
            "text: more than the {MAX_TEST_TEXT_BYTES} bytes allowed"
        )));
    }
    let mut texts = vec![text];
    let verdicts = guardrail.run(on, &mut texts, model);
    let denied = verdicts
        .iter()
        .any(|v| !v.passed && v.action == Action::Deny);
    Ok(TestRun {
        text: texts.pop().unwrap_or_default(),
        verdicts,
        denied,
    })
}
