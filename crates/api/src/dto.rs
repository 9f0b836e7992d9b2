//! The API's wire types: what requests carry and responses show, with their OpenAPI schemas.
//! Secrets appear only where they are handed out once (`key` of a new virtual key, tokens at
//! login); provider keys are write-only and shown masked.

use chrono::{DateTime, Utc};
use keyway_domain::{Role, Usd};
use keyway_store::accounts::User;
use keyway_store::audit::AuditEntry;
use keyway_store::credentials::ProviderCredential;
use keyway_store::members::{Invite, Member};
use keyway_store::orgs::{OrgWithRole, Organization};
use keyway_store::teams::Team;
use keyway_store::virtual_keys::{BudgetPeriod, KeyBudget, KeyLimits, VirtualKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::ApiError;

/// A list page.
#[derive(Serialize, ToSchema)]
pub struct ListPage<T: ToSchema> {
    /// Items of this page.
    pub data: Vec<T>,
    /// Cursor for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema + Serialize> ListPage<T> {
    /// Pages `items` (already in their stable order) as `q` asks and converts each to its
    /// wire type: the body of every list route.
    pub fn respond<S>(
        items: Vec<S>,
        id_of: impl Fn(&S) -> String,
        q: &PageQuery,
    ) -> Result<actix_web::HttpResponse, ApiError>
    where
        T: From<S>,
    {
        let page = crate::services::paginate(items, id_of, q.limit, q.cursor.as_deref())?;
        Ok(actix_web::HttpResponse::Ok().json(ListPage {
            data: page.data.into_iter().map(T::from).collect::<Vec<T>>(),
            next_cursor: page.next_cursor,
        }))
    }
}

/// Paging query parameters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// An account.
#[derive(Serialize, ToSchema)]
pub struct UserOut {
    /// Id.
    pub id: Uuid,
    /// Address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Whether the address is verified.
    pub email_verified: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            id: u.id.as_uuid(),
            email: u.email,
            name: u.name,
            email_verified: u.email_verified_at.is_some(),
            created_at: u.created_at,
        }
    }
}

/// The caller with their organizations.
#[derive(Serialize, ToSchema)]
pub struct MeOut {
    /// The account.
    pub user: UserOut,
    /// Organizations and roles.
    pub orgs: Vec<OrgOut>,
}

/// Tokens from login or refresh.
#[derive(Serialize, ToSchema)]
pub struct TokensOut {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Single-use refresh token.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// Seconds the session lives at most.
    pub refresh_expires_in: i64,
}

/// An organization, with the caller's role.
#[derive(Serialize, ToSchema)]
pub struct OrgOut {
    /// Id.
    pub id: Uuid,
    /// Unique handle.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The caller's role.
    #[schema(value_type = String, example = "owner")]
    pub role: Role,
    /// Days of analytics kept (`null`: deployment default).
    pub retention_days: Option<u32>,
    /// Whether request/response bodies are stored (redacted).
    pub log_bodies: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl OrgOut {
    /// An organization as seen by a member with `role`.
    pub fn new(org: Organization, role: Role) -> Self {
        Self {
            id: org.id.as_uuid(),
            slug: org.slug.as_str().to_owned(),
            name: org.name,
            role,
            retention_days: org.retention_days,
            log_bodies: org.log_bodies,
            created_at: org.created_at,
        }
    }
}

impl From<OrgWithRole> for OrgOut {
    fn from(o: OrgWithRole) -> Self {
        OrgOut::new(o.org, o.role)
    }
}

/// A member.
#[derive(Serialize, ToSchema)]
pub struct MemberOut {
    /// User id.
    pub user_id: Uuid,
    /// Address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    #[schema(value_type = String, example = "member")]
    pub role: Role,
    /// Member since.
    pub joined_at: DateTime<Utc>,
}

impl From<Member> for MemberOut {
    fn from(m: Member) -> Self {
        Self {
            user_id: m.user_id.as_uuid(),
            email: m.email,
            name: m.name,
            role: m.role,
            joined_at: m.joined_at,
        }
    }
}

/// An invitation.
#[derive(Serialize, ToSchema)]
pub struct InviteOut {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub org_id: Uuid,
    /// Invited address.
    pub email: String,
    /// Role on acceptance.
    #[schema(value_type = String, example = "member")]
    pub role: Role,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
    /// Sent at.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

impl From<Invite> for InviteOut {
    fn from(i: Invite) -> Self {
        Self {
            status: i.status_at(Utc::now()).to_owned(),
            id: i.id.as_uuid(),
            org_id: i.org_id.as_uuid(),
            email: i.email,
            role: i.role,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// What an invite link offers.
#[derive(Serialize, ToSchema)]
pub struct InvitePreviewOut {
    /// Organization name.
    pub org_name: String,
    /// Invited address.
    pub email: String,
    /// Role on acceptance.
    #[schema(value_type = String)]
    pub role: Role,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

/// Rate limits.
#[derive(Serialize, Deserialize, ToSchema, Default, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct LimitsIo {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute.
    pub tpm: Option<u64>,
}

impl From<KeyLimits> for LimitsIo {
    fn from(l: KeyLimits) -> Self {
        Self {
            rpm: l.rpm,
            tpm: l.tpm,
        }
    }
}

impl LimitsIo {
    /// As stored; zero limits are refused (use `null` for unlimited).
    pub fn into_limits(self) -> Result<KeyLimits, ApiError> {
        if self.rpm == Some(0) || self.tpm == Some(0) {
            return Err(ApiError::BadRequest(
                "limits.rpm and limits.tpm must be positive (null means unlimited)".into(),
            ));
        }
        Ok(KeyLimits {
            rpm: self.rpm,
            tpm: self.tpm,
        })
    }
}

/// A spending cap.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct BudgetIo {
    /// Dollars per period, as a decimal string or number (e.g. `"25.00"`).
    #[schema(value_type = String, example = "25.00")]
    pub limit_usd: serde_json::Value,
    /// `daily`, `weekly`, `monthly` or `total`.
    #[schema(value_type = String, example = "monthly")]
    pub period: BudgetPeriod,
}

impl From<KeyBudget> for BudgetIo {
    fn from(b: KeyBudget) -> Self {
        Self {
            limit_usd: serde_json::Value::String(b.limit.to_string()),
            period: b.period,
        }
    }
}

impl BudgetIo {
    /// As stored.
    pub fn into_budget(self) -> Result<KeyBudget, ApiError> {
        let text = match &self.limit_usd {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => {
                return Err(ApiError::BadRequest(
                    "budget.limit_usd must be a decimal amount".into(),
                ));
            }
        };
        let limit = Usd::parse_decimal(&text)
            .map_err(|e| ApiError::BadRequest(format!("budget.limit_usd: {e}")))?;
        if limit.nanos() <= 0 {
            return Err(ApiError::BadRequest(
                "budget.limit_usd must be positive".into(),
            ));
        }
        Ok(KeyBudget {
            limit,
            period: self.period,
        })
    }
}

/// A team.
#[derive(Serialize, ToSchema)]
pub struct TeamOut {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Rate limits shared by the team's keys.
    pub limits: LimitsIo,
    /// Budget shared by the team's keys.
    pub budget: Option<BudgetIo>,
    /// Member user ids.
    pub member_ids: Vec<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Spend in the budget's current period (reads and lists), only when the team has a budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend: Option<SpendOut>,
}

impl From<Team> for TeamOut {
    fn from(t: Team) -> Self {
        Self {
            id: t.id.as_uuid(),
            name: t.name,
            limits: t.limits.into(),
            budget: t.budget.map(Into::into),
            member_ids: t.member_ids.into_iter().map(|u| u.as_uuid()).collect(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            spend: None,
        }
    }
}

/// A provider credential (the key masked).
#[derive(Serialize, ToSchema)]
pub struct ProviderOut {
    /// Id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Handle used in model names: `<slug>/<model>`.
    pub slug: String,
    /// Provider kind (`openai`, `anthropic`, `gemini`, `azure-openai`, `bedrock`, ...).
    pub provider: String,
    /// Base URL override.
    pub base_url: Option<String>,
    /// Provider-specific settings.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// `****` and the key's last four characters.
    pub api_key_masked: String,
    /// Id of the master key sealing the secret.
    pub master_key_id: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<ProviderCredential> for ProviderOut {
    fn from(c: ProviderCredential) -> Self {
        Self {
            api_key_masked: c.masked_key(),
            id: c.id.as_uuid(),
            name: c.name,
            slug: c.slug.as_str().to_owned(),
            provider: c.provider.as_str().to_owned(),
            base_url: c.base_url,
            config: c.config,
            master_key_id: c.master_key_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A virtual key (never its secret, except `key` right after creation or rotation).
#[derive(Serialize, ToSchema)]
pub struct KeyOut {
    /// Id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// First characters of the secret.
    pub prefix: String,
    /// The secret, present only in the response that created or rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    /// Team.
    pub team_id: Option<Uuid>,
    /// Allowed models (empty: all).
    pub allowed_models: Vec<String>,
    /// Allowed provider slugs (empty: all).
    pub allowed_providers: Vec<String>,
    /// Rate limits.
    pub limits: LimitsIo,
    /// Spending cap.
    pub budget: Option<BudgetIo>,
    /// Labels recorded with each request.
    pub metadata: BTreeMap<String, String>,
    /// Default routing config.
    pub default_config_id: Option<Uuid>,
    /// Attached guardrails, run in order.
    pub guardrails: Vec<Uuid>,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Until then the secret replaced by the last rotation still works.
    pub previous_key_expires_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last use.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Spend in the budget's current period (reads and lists), only when the key has a budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend: Option<SpendOut>,
}

/// Spend of a budget in its current period.
#[derive(Serialize, ToSchema)]
pub struct SpendOut {
    /// Period id (`d2026-12-05`, `w2026-11-30`, `m2026-12`, `total`).
    pub period_id: String,
    /// Settled spend, decimal USD.
    pub spent_usd: String,
    /// Held by requests in flight, decimal USD.
    pub reserved_usd: String,
    /// The budget, decimal USD.
    pub limit_usd: String,
    /// When the period starts over (`null` for a lifetime budget).
    pub resets_at: Option<DateTime<Utc>>,
}

impl From<VirtualKey> for KeyOut {
    fn from(k: VirtualKey) -> Self {
        let now = Utc::now();
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else if k.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        };
        Self {
            status: status.to_owned(),
            id: k.id.as_uuid(),
            name: k.name,
            prefix: k.prefix,
            key: None,
            team_id: k.team_id,
            allowed_models: k.allowed_models,
            allowed_providers: k
                .allowed_providers
                .into_iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            limits: k.limits.into(),
            budget: k.budget.map(Into::into),
            metadata: k.metadata,
            default_config_id: k.default_config_id,
            guardrails: k.guardrails,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            previous_key_expires_at: k.previous_secret_expires_at,
            created_at: k.created_at,
            updated_at: k.updated_at,
            last_used_at: k.last_used_at,
            spend: None,
        }
    }
}

/// An audit entry.
#[derive(Serialize, ToSchema)]
pub struct AuditOut {
    /// Id.
    pub id: Uuid,
    /// Acting user.
    pub actor_id: Option<Uuid>,
    /// Acting user's address.
    pub actor_email: String,
    /// Action, e.g. `key.revoke`.
    pub action: String,
    /// Kind of target.
    pub target_type: String,
    /// Target id.
    pub target_id: String,
    /// Before/after summary.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    /// Client address.
    pub ip: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<AuditEntry> for AuditOut {
    fn from(a: AuditEntry) -> Self {
        Self {
            id: a.id,
            actor_id: a.actor_id.map(|u| u.as_uuid()),
            actor_email: a.actor_email,
            action: a.action,
            target_type: a.target_type,
            target_id: a.target_id,
            summary: a.summary,
            ip: a.ip,
            created_at: a.created_at,
        }
    }
}

/// `{"status": "..."}` for actions without a resource to return.
#[derive(Serialize, ToSchema)]
pub struct StatusOut {
    /// What happened.
    pub status: String,
}

impl StatusOut {
    /// A status body.
    pub fn new(status: &str) -> Self {
        Self {
            status: status.to_owned(),
        }
    }
}

/// Deserializes a field that distinguishes "absent" (`None`, via `#[serde(default)]`) from
/// `null` (`Some(None)`), for PATCH bodies that can clear a value.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
