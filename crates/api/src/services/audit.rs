//! The audit log, readable by admins.

use super::OrgCtx;
use crate::{ApiError, ApiState};
use keyway_domain::Role;
use keyway_store::audit::{AuditEntry, AuditFilter};

/// Entries matching `filter`, newest first; returns the page and whether more follow.
pub async fn list(
    state: &ApiState,
    ctx: &OrgCtx,
    filter: &AuditFilter,
    limit: usize,
) -> Result<(Vec<AuditEntry>, bool), ApiError> {
    ctx.require(Role::Admin, "reading the audit log")?;
    let fetch = u64::try_from(limit + 1).unwrap_or(u64::MAX);
    let mut entries = state.db.list_audit(ctx.org_id, filter, fetch).await?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    Ok((entries, more))
}
