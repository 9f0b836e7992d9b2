//! Prompt templates and partials: read (any member), create / new version / rename / label /
//! delete (admin, as for routing configs).
//!
//! Every version is validated before it is stored (roles, model, templates in the supported
//! Mustache subset, partials that exist in the organization), so the gateway never meets a
//! stored version it cannot render for reasons of the template itself. Versions are immutable;
//! shipping or rolling back is moving a label (`PUT .../labels/{label}`). A change tells the
//! gateways, which drop their cached prompts of the organization.

use super::OrgCtx;
use crate::{ApiError, ApiState};
use keyway_domain::prompt::{self, PromptError, PromptTemplate};
use keyway_domain::{Role, Slug};
use keyway_store::StoreError;
use keyway_store::prompts::{
    PartialRecord, PartialVersion, PromptLabel, PromptRecord, PromptVersion, VersionSelector,
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// Largest parameters or variable schema accepted, in bytes of JSON.
pub const MAX_JSON_BYTES: usize = 64 * 1024;
/// Longest description or commit message, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

fn bad(e: PromptError) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict("prompt slug") => {
            ApiError::Conflict("a prompt with this slug already exists".into())
        }
        StoreError::Conflict("partial slug") => {
            ApiError::Conflict("a partial with this slug already exists".into())
        }
        StoreError::Conflict(_) => ApiError::Conflict(
            "the prompt was changed concurrently; read it again and retry".into(),
        ),
        other => other.into(),
    }
}

fn slug(value: &str, what: &str) -> Result<String, ApiError> {
    Slug::parse(value)
        .map(|s| s.as_str().to_owned())
        .map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))
}

/// Postgres refuses NUL in text and JSONB: a 400 here rather than a 500 from the database.
fn no_nul(value: &str, what: &str) -> Result<(), ApiError> {
    if value.contains('\0') {
        return Err(ApiError::BadRequest(format!(
            "{what} must not contain NUL characters"
        )));
    }
    Ok(())
}

fn json_has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(json_has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

fn text(value: &str, what: &str) -> Result<String, ApiError> {
    no_nul(value, what)?;
    let value = value.trim();
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::BadRequest(format!(
            "{what} must be at most {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(value.to_owned())
}

async fn check_template(
    state: &ApiState,
    ctx: &OrgCtx,
    template: &PromptTemplate,
) -> Result<(), ApiError> {
    for (what, size) in [
        ("parameters", serde_json::to_vec(&template.parameters)),
        ("variables", serde_json::to_vec(&template.variables)),
    ] {
        let size = size.map(|v| v.len()).unwrap_or(0);
        if size > MAX_JSON_BYTES {
            return Err(ApiError::BadRequest(format!(
                "{what}: {size} bytes is more than the {MAX_JSON_BYTES} allowed"
            )));
        }
    }
    let as_json = serde_json::to_value(template).unwrap_or(Value::Null);
    if json_has_nul(&as_json) {
        return Err(ApiError::BadRequest(
            "messages, model, parameters and variables must not contain NUL characters".into(),
        ));
    }
    let partials = state.db.partial_contents(ctx.org_id).await?;
    template.validate(&partials).map_err(bad)?;
    state
        .db
        .check_guardrails_exist(ctx.org_id, &template.guardrails)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(why) => ApiError::BadRequest(format!("guardrails: {why}")),
            other => other.into(),
        })
}

/// Prompts of the organization.
pub async fn list(state: &ApiState, ctx: &OrgCtx) -> Result<Vec<PromptRecord>, ApiError> {
    Ok(state.db.list_prompts(ctx.org_id).await?)
}

/// One prompt with its labels.
pub async fn get(state: &ApiState, ctx: &OrgCtx, id: Uuid) -> Result<PromptRecord, ApiError> {
    state
        .db
        .get_prompt(ctx.org_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// What a new prompt holds besides its first version.
pub struct NewPrompt<'a> {
    /// Slug, unique in the organization.
    pub slug: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Free text.
    pub description: &'a str,
}

/// Creates a prompt with `template` as version 1.
pub async fn create(
    state: &ApiState,
    ctx: &OrgCtx,
    new: NewPrompt<'_>,
    template: PromptTemplate,
    commit_message: &str,
) -> Result<PromptRecord, ApiError> {
    ctx.require(Role::Admin, "creating prompts")?;
    let slug = slug(new.slug, "slug")?;
    let name = super::clean_name(new.name, "name")?;
    let description = text(new.description, "description")?;
    let commit_message = text(commit_message, "commit_message")?;
    check_template(state, ctx, &template).await?;
    let record = state
        .db
        .create_prompt(
            ctx.org_id,
            &slug,
            &name,
            &description,
            &template,
            &commit_message,
            Some(ctx.caller.user.id),
        )
        .await
        .map_err(conflict)?;
    ctx.notify_gateways(state).await;
    ctx.audit(
        state,
        "prompt.create",
        "prompt",
        record.id,
        json!({"slug": record.slug, "version": 1}),
    )
    .await?;
    Ok(record)
}

/// Renames a prompt and/or changes its description.
pub async fn update(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
    name: Option<String>,
    description: Option<String>,
) -> Result<PromptRecord, ApiError> {
    ctx.require(Role::Admin, "changing prompts")?;
    let before = get(state, ctx, id).await?;
    if name.is_none() && description.is_none() {
        return Err(ApiError::BadRequest(
            "give a new name, a new description, or both".into(),
        ));
    }
    let name = name.map(|n| super::clean_name(&n, "name")).transpose()?;
    let description = description.map(|d| text(&d, "description")).transpose()?;
    let after = state
        .db
        .update_prompt(ctx.org_id, id, name.as_deref(), description.as_deref())
        .await?;
    ctx.audit(
        state,
        "prompt.update",
        "prompt",
        id,
        json!({"before": {"name": before.name}, "after": {"name": after.name}}),
    )
    .await?;
    Ok(after)
}

/// Deletes a prompt with its versions and labels.
pub async fn delete(state: &ApiState, ctx: &OrgCtx, id: Uuid) -> Result<(), ApiError> {
    ctx.require(Role::Admin, "deleting prompts")?;
    let prompt = get(state, ctx, id).await?;
    state.db.delete_prompt(ctx.org_id, id).await?;
    ctx.notify_gateways(state).await;
    ctx.audit(
        state,
        "prompt.delete",
        "prompt",
        id,
        json!({"slug": prompt.slug, "version": prompt.latest_version}),
    )
    .await?;
    Ok(())
}

/// Every version of a prompt, newest first.
pub async fn versions(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
) -> Result<Vec<PromptVersion>, ApiError> {
    Ok(state.db.list_prompt_versions(ctx.org_id, id).await?)
}

/// One version of a prompt.
pub async fn version(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
    number: u32,
) -> Result<PromptVersion, ApiError> {
    state
        .db
        .get_prompt_version(ctx.org_id, id, number)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Writes the next version of a prompt.
pub async fn create_version(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
    template: PromptTemplate,
    commit_message: &str,
) -> Result<PromptVersion, ApiError> {
    ctx.require(Role::Admin, "writing prompt versions")?;
    get(state, ctx, id).await?;
    let commit_message = text(commit_message, "commit_message")?;
    check_template(state, ctx, &template).await?;
    let version = state
        .db
        .create_prompt_version(
            ctx.org_id,
            id,
            &template,
            &commit_message,
            Some(ctx.caller.user.id),
        )
        .await
        .map_err(conflict)?;
    ctx.notify_gateways(state).await;
    ctx.audit(
        state,
        "prompt.version",
        "prompt",
        id,
        json!({"version": version.version, "commit_message": version.commit_message}),
    )
    .await?;
    Ok(version)
}

/// Labels of a prompt.
pub async fn labels(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
) -> Result<Vec<PromptLabel>, ApiError> {
    Ok(state.db.list_prompt_labels(ctx.org_id, id).await?)
}

/// Points a label at a version: ships it, or rolls back when the version is older.
pub async fn set_label(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
    label: &str,
    number: u32,
) -> Result<PromptLabel, ApiError> {
    ctx.require(Role::Admin, "moving prompt labels")?;
    let label = slug(label, "label")?;
    let before = get(state, ctx, id).await?;
    // An older version may name a guardrail deleted since: serving it would fail, so it
    // cannot ship.
    if let Some(v) = state.db.get_prompt_version(ctx.org_id, id, number).await?
        && let Err(StoreError::Invalid(why)) = state
            .db
            .check_guardrails_exist(ctx.org_id, &v.template.guardrails)
            .await
    {
        return Err(ApiError::BadRequest(format!(
            "version: version {number} cannot be labelled, {why}"
        )));
    }
    let moved = match state
        .db
        .set_prompt_label(ctx.org_id, id, &label, number, Some(ctx.caller.user.id))
        .await
    {
        Err(StoreError::NotFound("prompt version")) => {
            return Err(ApiError::BadRequest(format!(
                "version: this prompt has no version {number}"
            )));
        }
        other => other?,
    };
    ctx.notify_gateways(state).await;
    ctx.audit(
        state,
        "prompt.label",
        "prompt",
        id,
        json!({"label": label, "before": before.labels.get(&label), "after": number}),
    )
    .await?;
    Ok(moved)
}

/// Removes a label from a prompt.
pub async fn delete_label(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
    label: &str,
) -> Result<(), ApiError> {
    ctx.require(Role::Admin, "removing prompt labels")?;
    // Not a label name: no such label (labels are slugs).
    let label = Slug::parse(label).map_err(|_| ApiError::NotFound)?;
    let label = label.as_str();
    state.db.delete_prompt_label(ctx.org_id, id, label).await?;
    ctx.notify_gateways(state).await;
    ctx.audit(
        state,
        "prompt.unlabel",
        "prompt",
        id,
        json!({"label": label}),
    )
    .await?;
    Ok(())
}

/// One line of a diff.
#[derive(Debug, Clone, Serialize)]
pub struct DiffLine {
    /// `equal`, `delete` (only in `from`) or `insert` (only in `to`).
    pub op: &'static str,
    /// The line, without its newline.
    pub text: String,
}

/// The line diff of one part of a version.
#[derive(Debug, Clone, Serialize)]
pub struct FieldDiff {
    /// `messages`, `model`, `parameters` or `variables`.
    pub field: &'static str,
    /// Whether the part differs.
    pub changed: bool,
    /// Every line of both sides in order.
    pub lines: Vec<DiffLine>,
}

/// How two versions differ.
#[derive(Debug, Clone, Serialize)]
pub struct PromptDiff {
    /// The older side.
    pub from: u32,
    /// The newer side.
    pub to: u32,
    /// Whether anything differs.
    pub changed: bool,
    /// Per part.
    pub fields: Vec<FieldDiff>,
    /// All parts as one unified diff.
    pub unified: String,
}

fn diff_text(t: &PromptTemplate) -> [(&'static str, String); 5] {
    let messages = t
        .messages
        .iter()
        .map(|m| format!("[{}]\n{}\n", m.role, m.content))
        .collect::<String>();
    [
        ("messages", messages),
        ("model", format!("{}\n", t.model)),
        ("parameters", pretty(&t.parameters)),
        ("variables", pretty(&t.variables)),
        ("guardrails", pretty(&t.guardrails)),
    ]
}

/// Pretty JSON with a final newline, for line diffs.
fn pretty(value: &impl Serialize) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    s
}

/// The line diff between versions `from` and `to` (defaults: the version before `to`, and the
/// newest) of messages, model, parameters, variables and guardrails.
pub async fn diff(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
    from: Option<u32>,
    to: Option<u32>,
) -> Result<PromptDiff, ApiError> {
    let prompt = get(state, ctx, id).await?;
    let to = to.unwrap_or(prompt.latest_version);
    let from = from.unwrap_or_else(|| to.saturating_sub(1).max(1));
    let missing = |n: u32| ApiError::BadRequest(format!("this prompt has no version {n}"));
    let a = state
        .db
        .get_prompt_version(ctx.org_id, id, from)
        .await?
        .ok_or_else(|| missing(from))?;
    let b = state
        .db
        .get_prompt_version(ctx.org_id, id, to)
        .await?
        .ok_or_else(|| missing(to))?;
    let mut fields = Vec::new();
    let mut unified = String::new();
    for ((field, old), (_, new)) in diff_text(&a.template)
        .into_iter()
        .zip(diff_text(&b.template))
    {
        let d = similar::TextDiff::from_lines(&old, &new);
        let lines = d
            .iter_all_changes()
            .map(|c| DiffLine {
                op: match c.tag() {
                    similar::ChangeTag::Equal => "equal",
                    similar::ChangeTag::Delete => "delete",
                    similar::ChangeTag::Insert => "insert",
                },
                text: c.value().trim_end_matches('\n').to_owned(),
            })
            .collect::<Vec<_>>();
        let changed = old != new;
        if changed {
            unified.push_str(
                &d.unified_diff()
                    .header(&format!("v{from}/{field}"), &format!("v{to}/{field}"))
                    .to_string(),
            );
        }
        fields.push(FieldDiff {
            field,
            changed,
            lines,
        });
    }
    Ok(PromptDiff {
        from,
        to,
        changed: fields.iter().any(|f| f.changed),
        fields,
        unified,
    })
}

/// Renders a version as the gateway would (the preview): the OpenAI chat request body.
pub async fn render(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
    selector: VersionSelector,
    variables: &Map<String, Value>,
) -> Result<(u32, Map<String, Value>), ApiError> {
    let prompt = get(state, ctx, id).await?;
    let found = match state
        .db
        .resolve_prompt(ctx.org_id, &prompt.slug, &selector)
        .await
    {
        Err(StoreError::NotFound(what)) => {
            return Err(ApiError::BadRequest(format!("no such {what}")));
        }
        other => other?,
    };
    let (_, version) = found.ok_or(ApiError::NotFound)?;
    let partials = state.db.partial_contents(ctx.org_id).await?;
    let body = version.template.render(variables, &partials).map_err(bad)?;
    Ok((version.version, body))
}

/// Partials of the organization, each with its newest version.
pub async fn list_partials(state: &ApiState, ctx: &OrgCtx) -> Result<Vec<PartialRecord>, ApiError> {
    Ok(state.db.list_partials(ctx.org_id).await?)
}

/// One partial with its newest version.
pub async fn get_partial(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
) -> Result<PartialRecord, ApiError> {
    state
        .db
        .get_partial(ctx.org_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Creates a partial (version 1).
pub async fn create_partial(
    state: &ApiState,
    ctx: &OrgCtx,
    slug_in: &str,
    content: &str,
    commit_message: &str,
) -> Result<PartialRecord, ApiError> {
    ctx.require(Role::Admin, "creating partials")?;
    let slug = slug(slug_in, "slug")?;
    let commit_message = text(commit_message, "commit_message")?;
    no_nul(content, "content")?;
    let partials = state.db.partial_contents(ctx.org_id).await?;
    prompt::validate_partial(content, &partials).map_err(bad)?;
    let record = state
        .db
        .create_partial(
            ctx.org_id,
            &slug,
            content,
            &commit_message,
            Some(ctx.caller.user.id),
        )
        .await
        .map_err(conflict)?;
    ctx.notify_gateways(state).await;
    ctx.audit(
        state,
        "partial.create",
        "partial",
        record.id,
        json!({"slug": record.slug, "version": 1}),
    )
    .await?;
    Ok(record)
}

/// Writes the next version of a partial; prompts render with it from now on.
pub async fn update_partial(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
    content: &str,
    commit_message: &str,
) -> Result<PartialRecord, ApiError> {
    ctx.require(Role::Admin, "changing partials")?;
    get_partial(state, ctx, id).await?;
    let commit_message = text(commit_message, "commit_message")?;
    no_nul(content, "content")?;
    let partials = state.db.partial_contents(ctx.org_id).await?;
    prompt::validate_partial(content, &partials).map_err(bad)?;
    let record = state
        .db
        .create_partial_version(
            ctx.org_id,
            id,
            content,
            &commit_message,
            Some(ctx.caller.user.id),
        )
        .await
        .map_err(conflict)?;
    ctx.notify_gateways(state).await;
    ctx.audit(
        state,
        "partial.version",
        "partial",
        id,
        json!({"slug": record.slug, "version": record.latest_version}),
    )
    .await?;
    Ok(record)
}

/// Every version of a partial, newest first.
pub async fn partial_versions(
    state: &ApiState,
    ctx: &OrgCtx,
    id: Uuid,
) -> Result<Vec<PartialVersion>, ApiError> {
    Ok(state.db.list_partial_versions(ctx.org_id, id).await?)
}

/// The versions that serve traffic or will: each prompt's newest and its labelled ones, as
/// `(prompt slug, version)`.
pub async fn live_versions(
    state: &ApiState,
    ctx: &OrgCtx,
) -> Result<Vec<(String, PromptVersion)>, ApiError> {
    let mut live_versions = Vec::new();
    for p in state.db.list_prompts(ctx.org_id).await? {
        let mut live: Vec<u32> = p.labels.values().copied().collect();
        live.push(p.latest_version);
        live.sort_unstable();
        live.dedup();
        for n in live {
            if let Some(v) = state.db.get_prompt_version(ctx.org_id, p.id, n).await? {
                live_versions.push((p.slug.clone(), v));
            }
        }
    }
    Ok(live_versions)
}

/// Where a partial is included: `slug vN` of prompt versions that are newest or labelled, and
/// `partial other` of other partials.
async fn partial_users(
    state: &ApiState,
    ctx: &OrgCtx,
    slug: &str,
) -> Result<Vec<String>, ApiError> {
    let mut users: Vec<String> = live_versions(state, ctx)
        .await?
        .into_iter()
        .filter(|(_, v)| v.template.partials().iter().any(|s| s == slug))
        .map(|(prompt, v)| format!("{prompt} v{}", v.version))
        .collect();
    for other in state.db.list_partials(ctx.org_id).await? {
        if other.slug != slug
            && prompt::partials_of(&other.content)
                .iter()
                .any(|s| s == slug)
        {
            users.push(format!("partial {}", other.slug));
        }
    }
    Ok(users)
}

/// Deletes a partial; refused (409) while a prompt's newest or labelled version, or another
/// partial, includes it, since those would stop rendering.
pub async fn delete_partial(state: &ApiState, ctx: &OrgCtx, id: Uuid) -> Result<(), ApiError> {
    ctx.require(Role::Admin, "deleting partials")?;
    let partial = get_partial(state, ctx, id).await?;
    let users = partial_users(state, ctx, &partial.slug).await?;
    if !users.is_empty() {
        return Err(ApiError::Conflict(format!(
            "partial `{}` is included by {}; change those first",
            partial.slug,
            users.join(", ")
        )));
    }
    state.db.delete_partial(ctx.org_id, id).await?;
    ctx.notify_gateways(state).await;
    ctx.audit(
        state,
        "partial.delete",
        "partial",
        id,
        json!({"slug": partial.slug}),
    )
    .await?;
    Ok(())
}
