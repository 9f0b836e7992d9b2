//! The control plane's service layer: every rule about who may do what lives here, so REST
//! handlers and the dashboard's server functions share it.
//!
//! Org-scoped services start from [`OrgCtx::load`]: a caller who is not a member of the
//! organization gets [`ApiError::NotFound`] (exactly as for an organization that does not
//! exist), and [`OrgCtx::require`] turns a too-weak role into a 403. Every mutation records an
//! audit entry through [`OrgCtx::audit`].

pub mod accounts;
pub mod analytics;
pub mod audit;
pub mod configs;
pub mod guardrails;
pub mod invites;
pub mod keys;
pub mod limits;
pub mod members;
pub mod orgs;
pub mod prompts;
pub mod providers;
pub mod spend;
pub mod teams;

use crate::auth::Caller;
use crate::{ApiError, ApiState};
use base64::Engine as _;
use keyway_domain::{OrgId, Role};
use keyway_store::audit::NewAuditEntry;
use serde::Serialize;
use uuid::Uuid;

/// A caller acting inside one organization, with their role there.
#[derive(Debug, Clone)]
pub struct OrgCtx {
    /// The organization.
    pub org_id: OrgId,
    /// The caller's role in it.
    pub role: Role,
    /// The caller.
    pub caller: Caller,
}

impl OrgCtx {
    /// The caller's context in `org_id`; not a member (or no such org) is a 404.
    pub async fn load(state: &ApiState, caller: &Caller, org_id: Uuid) -> Result<Self, ApiError> {
        let org_id = OrgId::from_uuid(org_id);
        let role = state
            .db
            .role_of(org_id, caller.user.id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(Self {
            org_id,
            role,
            caller: caller.clone(),
        })
    }

    /// A 403 unless the caller's role is at least `needed`.
    pub fn require(&self, needed: Role, action: &str) -> Result<(), ApiError> {
        if self.role.at_least(needed) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{action} needs the {needed} role or higher; you are {}",
                self.role
            )))
        }
    }

    /// Tells every gateway process to drop what it cached of this organization (key policies,
    /// credentials, prices), so a change applies within moments rather than at the cache's TTL,
    /// which remains the backstop when the notification cannot be sent.
    pub async fn notify_gateways(&self, state: &ApiState) {
        if let Err(e) = keyway_store::invalidation::publish_org_change(&state.kv, self.org_id).await
        {
            tracing::warn!(org = %self.org_id, error = %e, "could not notify gateways; caches expire on their own");
        }
    }

    /// Records a mutation in the audit log. The summary must not hold secrets.
    pub async fn audit(
        &self,
        state: &ApiState,
        action: &str,
        target_type: &str,
        target_id: impl ToString,
        summary: serde_json::Value,
    ) -> Result<(), ApiError> {
        state
            .db
            .record_audit(NewAuditEntry {
                org_id: self.org_id,
                actor_id: Some(self.caller.user.id),
                actor_email: &self.caller.user.email,
                action,
                target_type,
                target_id: target_id.to_string(),
                summary,
                ip: self.caller.ip.clone(),
            })
            .await?;
        Ok(())
    }
}

/// A page of a list: items and the cursor of the next page (`null` on the last page).
#[derive(Debug, Serialize)]
pub struct Page<T> {
    /// Items of this page.
    pub data: Vec<T>,
    /// Opaque cursor for the next page, if there is one.
    pub next_cursor: Option<String>,
}

/// Default page size.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page size.
pub const MAX_LIMIT: usize = 200;

/// Encodes the last item's id as an opaque cursor.
pub fn encode_cursor(last_id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last_id.as_bytes())
}

/// Decodes a cursor from [`encode_cursor`].
pub fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))
}

/// Checks a requested page size.
pub fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

/// Pages through a list already in its stable order (organizations hold few of each resource,
/// so the store returns them whole); the cursor is the id of the previous page's last item.
pub fn paginate<T>(
    items: Vec<T>,
    id_of: impl Fn(&T) -> String,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<Page<T>, ApiError> {
    let limit = page_limit(limit)?;
    let start = match cursor {
        None => 0,
        Some(c) => {
            let after = decode_cursor(c)?;
            items
                .iter()
                .position(|i| id_of(i) == after)
                .map(|p| p + 1)
                .ok_or_else(|| ApiError::BadRequest("cursor does not match this list".into()))?
        }
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next_cursor = if more {
        rest.last().map(|i| encode_cursor(&id_of(i)))
    } else {
        None
    };
    Ok(Page {
        data: rest,
        next_cursor,
    })
}

/// A budget as audit summaries show it: the API's own shape ([`BudgetIo`], decimal USD), not
/// stored nano-dollars.
///
/// [`BudgetIo`]: crate::dto::BudgetIo
pub fn budget_summary(budget: Option<&keyway_store::virtual_keys::KeyBudget>) -> serde_json::Value {
    serde_json::json!(budget.cloned().map(crate::dto::BudgetIo::from))
}

/// Trims a display name and checks its length.
pub fn clean_name(name: &str, what: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let len = name.chars().count();
    if len == 0 || len > 200 {
        return Err(ApiError::BadRequest(format!(
            "{what} must be 1 to 200 characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(name.to_owned())
}
