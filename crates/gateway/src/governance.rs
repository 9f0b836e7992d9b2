//! Step 6 of the pipeline: rate limits (requests and tokens per window) and budgets (spend per
//! period) at the key's, its team's, its organization's and the end user's level (the end user
//! named by `x-keyway-user` gets the organization's per-end-user limits), exact across gateway processes through
//! [`keyway_store::limits`] (Redis scripts; in-process on the embedded default).
//!
//! # Order and accounting
//! [`Governance::admit`] runs once the target is known (its price decides the estimate):
//! 1. every level's RPM/TPM is checked and, if all have room, one request and the estimated
//!    tokens (prompt estimate + `max_tokens`) are counted at every level (one script call);
//! 2. the estimated maximum cost is reserved at every level with a budget, all or nothing.
//!
//! The returned [`Admission`] is attached to the request's [`Recorder`]: when the request ends,
//! however it ends (success, upstream error, cut stream, client gone), the reservation is settled
//! to the real cost (released when nothing was spent) and the token count corrected to the real
//! usage, in the background so the response never waits on it.
//!
//! # Refusals
//! Both answer 429 in the caller's surface shape: `rate_limit_exceeded` with `retry-after` and
//! the `x-ratelimit-*` headers (OpenAI's names), or `budget_exceeded` with the level, its spend
//! and limit, and `retry-after` until the period starts over (none for a lifetime budget).
//! 429 rather than 402: it is what OpenAI answers for an exhausted quota (`insufficient_quota`),
//! so SDKs surface it as the error type callers already handle, and the `code` tells the two
//! apart. A limiter that cannot decide (Redis unreachable in fail-closed mode) answers 503.
//!
//! Thresholds (50, 80, 100 %) crossed by a settlement go to [`crate::alerts`]: an audit entry
//! and an e-mail to the organization's admins.
//!
//! Budgets admit while any headroom is left (`allow_final_overrun`), so a level overspends by at
//! most one request's reservation in total, even under concurrency across processes.

use crate::alerts::BudgetAlerts;
use crate::error::{GatewayError, Surface};
use crate::fresh::{Failed, Fresh, STALE_LIMIT, read_through};
use crate::prices::OrgPrices;
use crate::record::Recorder;
use crate::targets::Target;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use keyway_domain::{OrgId, TeamId, Usd};
use keyway_mailer::Mailer;
use keyway_providers::ChatRequest;
use keyway_providers::canonical::Usage;
use keyway_store::governance::{budget_level, end_user_scope, key_scope, org_scope, team_scope};
use keyway_store::invalidation::Change;
use keyway_store::limits::{
    BudgetDecision, BudgetLevel, LimitError, Limits, Period, RateLevel, Reservation, Scope,
    ScopeKind,
};
use keyway_store::org_limits::OrgLimits;
use keyway_store::teams::Team;
use keyway_store::virtual_keys::{KeyBudget, KeyLimits, KeyPolicy};
use keyway_store::{Database, Kv};
use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;

/// Output tokens assumed for a request that sets no `max_tokens`.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 4096;
/// The usual window of RPM and TPM limits.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// How long a team's limits are trusted before asking the database again (as key policies).
const TEAM_TTL: Duration = Duration::from_secs(5);

/// Header naming the end user a request is made for (limits per end user, analytics).
pub const END_USER_HEADER: &str = "x-keyway-user";
/// Longest accepted end-user id.
pub const MAX_END_USER_LEN: usize = 256;

/// Team or organization limits through `cache`: fresh for [`TEAM_TTL`], then re-read by one
/// request while the others keep using them, and kept (up to [`STALE_LIMIT`]) while the
/// database cannot answer.
async fn cached<K, V, F>(
    cache: &Cache<K, Fresh<V>>,
    key: K,
    what: &str,
    fetch: impl FnOnce() -> F,
) -> Result<V, Denied>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    F: Future<Output = Result<V, keyway_store::StoreError>>,
{
    match read_through(cache, &key, TEAM_TTL, fetch).await {
        Ok(value) => Ok(value),
        Err(Failed {
            error,
            stale: Some(value),
        }) => {
            tracing::warn!(error = %error, "{what} lookup failed; serving the cached limits");
            Ok(value)
        }
        Err(Failed { error, stale: None }) => {
            tracing::error!(error = %error, "{what} lookup failed");
            Err(Denied {
                error: GatewayError::unavailable(format!(
                    "Keyway cannot read this key's {what} limits right now; retry shortly."
                )),
                headers: vec![("retry-after", "1".to_owned())],
            })
        }
    }
}

/// The gateway's limiter: one per process (it holds the in-process fallback state).
#[derive(Clone)]
pub struct Governance {
    limits: Limits,
    db: Database,
    window: Duration,
    teams: Cache<TeamId, Fresh<Option<Arc<Team>>>>,
    orgs: Cache<OrgId, Fresh<Arc<OrgLimits>>>,
    alerts: BudgetAlerts,
}

/// What one request is expected to use, for admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// Prompt tokens (estimated) plus the most output tokens the request allows.
    pub tokens: u64,
    /// The most the request can cost.
    pub max_cost: Usd,
}

impl Estimate {
    /// The estimate for the chat requests of one call to `target` (several for a multi-prompt
    /// Completions call): the prompt is estimated from the body size (at most one token per
    /// three bytes of JSON, generous for text), the output is each request's `max_tokens` (or
    /// [`DEFAULT_MAX_OUTPUT_TOKENS`]) times its `n`.
    pub fn chat(
        target: &Target,
        prices: &OrgPrices,
        requests: &[ChatRequest],
        body_len: usize,
    ) -> Self {
        let output = requests.iter().fold(0u64, |sum, request| {
            let each = request
                .max_tokens
                .map_or(DEFAULT_MAX_OUTPUT_TOKENS, u64::from);
            sum.saturating_add(each.saturating_mul(u64::from(request.n.unwrap_or(1).max(1))))
        });
        Self::of(target, prices, prompt_tokens(body_len), output)
    }

    /// The estimate for `input` prompt tokens and at most `output` generated ones on `target`,
    /// at the organization's prices.
    pub fn of(target: &Target, prices: &OrgPrices, input: u64, output: u64) -> Self {
        let usage = Usage {
            input_tokens: input,
            output_tokens: output,
            ..Usage::default()
        };
        Self {
            tokens: input.saturating_add(output),
            max_cost: prices.cost(target, &usage),
        }
    }
}

/// Prompt tokens estimated from a request body's size.
pub fn prompt_tokens(body_len: usize) -> u64 {
    u64::try_from(body_len / 3 + 1).unwrap_or(u64::MAX)
}

/// A refused request: the error and the rate headers to send with it.
#[derive(Debug)]
pub struct Denied {
    error: GatewayError,
    headers: Vec<(&'static str, String)>,
}

impl Denied {
    /// Stable code (`rate_limit_exceeded`, `budget_exceeded`, `service_unavailable`).
    pub fn code(&self) -> &'static str {
        self.error.code()
    }

    /// HTTP status.
    pub fn status(&self) -> u16 {
        self.error.status().as_u16()
    }

    /// The response in `surface`'s error shape, with the rate headers and the request id.
    pub fn response(&self, surface: Surface, request_id: &str) -> HttpResponse {
        let mut resp = self.error.response(surface);
        crate::chat::set_header(&mut resp, "x-keyway-request-id", request_id);
        for (name, value) in &self.headers {
            crate::chat::set_header(&mut resp, name, value);
        }
        resp
    }
}

/// An admitted request's hold on the limits, settled when its [`Recorder`] finishes.
#[derive(Debug)]
pub struct Admission {
    rate_levels: Vec<RateLevel>,
    estimated_tokens: u64,
    reservation: Option<Reservation>,
    headers: Vec<(&'static str, String)>,
}

impl Admission {
    /// `x-ratelimit-*` headers for the response (empty when no rate limit applies).
    pub fn headers(&self) -> &[(&'static str, String)] {
        &self.headers
    }

    /// Whether anything is held (a rate count or a reservation).
    fn holds_anything(&self) -> bool {
        !self.rate_levels.is_empty() || self.reservation.is_some()
    }
}

/// Adds the rate headers of an admission to a response being built.
pub fn apply_headers(builder: &mut HttpResponseBuilder, headers: &[(&'static str, String)]) {
    for (name, value) in headers {
        builder.insert_header((*name, value.as_str()));
    }
}

fn period_name(p: Period) -> &'static str {
    match p {
        Period::Daily => "daily",
        Period::Weekly => "weekly",
        Period::Monthly => "monthly",
        Period::Total => "lifetime",
    }
}

fn level_name(kind: ScopeKind) -> &'static str {
    match kind {
        ScopeKind::Org => "organization",
        ScopeKind::Team => "team",
        ScopeKind::Key => "key",
        ScopeKind::EndUser => "end user",
    }
}

fn unavailable(e: &LimitError) -> Denied {
    match e {
        LimitError::Unavailable => {}
        other => tracing::error!(error = %other, "limiter failed"),
    }
    Denied {
        error: GatewayError::unavailable(
            "Keyway cannot check rate limits and budgets right now; retry shortly.",
        ),
        headers: vec![("retry-after", "1".to_owned())],
    }
}

impl Governance {
    /// A limiter over `limits` (build one [`Limits`] per process and share it), reading team
    /// limits from `db`; RPM/TPM windows last `window` (60 s; tests shorten it).
    pub fn new(limits: Limits, db: Database, window: Duration) -> Self {
        Self {
            limits,
            alerts: BudgetAlerts::new(db.clone(), None),
            db,
            window,
            teams: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(STALE_LIMIT)
                .build(),
            orgs: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(STALE_LIMIT)
                .build(),
        }
    }

    /// An in-process limiter with the default window (a gateway built without the server's
    /// shared one, e.g. in unit tests).
    pub fn in_process(db: Database) -> Self {
        let kv = Kv::memory("keyway:");
        Self::new(
            Limits::new(&kv, keyway_store::limits::LimitOptions::default()),
            db,
            DEFAULT_WINDOW,
        )
    }

    /// Also mails budget alerts to each organization's owners and admins (they are always
    /// recorded in the audit log).
    pub fn with_mailer(mut self, mailer: Arc<Mailer>) -> Self {
        self.alerts = BudgetAlerts::new(self.db.clone(), Some(mailer));
        self
    }

    /// The limiter underneath (spend queries).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    async fn team(&self, policy: &KeyPolicy) -> Result<Option<Arc<Team>>, Denied> {
        let Some(team_id) = policy.team_id.map(TeamId::from_uuid) else {
            return Ok(None);
        };
        let fetch = || async {
            Ok(self
                .db
                .get_team(policy.org_id, team_id)
                .await?
                .map(Arc::new))
        };
        cached(&self.teams, team_id, "team", fetch).await
    }

    async fn org(&self, policy: &KeyPolicy) -> Result<Arc<OrgLimits>, Denied> {
        let fetch = || async { Ok(Arc::new(self.db.org_limits(policy.org_id).await?)) };
        cached(&self.orgs, policy.org_id, "organization", fetch).await
    }

    /// The levels that apply to a request: its key's, its team's, its organization's and its
    /// end user's.
    fn levels(
        &self,
        policy: &KeyPolicy,
        team: Option<&Team>,
        org: &OrgLimits,
        end_user: Option<&str>,
    ) -> (Vec<RateLevel>, Vec<BudgetLevel>) {
        let mut entries: Vec<(Scope, KeyLimits, Option<KeyBudget>)> = vec![(
            key_scope(policy.org_id, policy.key_id),
            policy.limits,
            policy.budget,
        )];
        if let Some(team) = team {
            entries.push((team_scope(policy.org_id, team.id), team.limits, team.budget));
        }
        entries.push((org_scope(policy.org_id), org.limits, org.budget));
        // Most specific first: a refusal names the first level that has no room.
        if let Some(user) = end_user {
            entries.insert(
                0,
                (
                    end_user_scope(policy.org_id, user),
                    org.end_user_limits,
                    org.end_user_budget,
                ),
            );
        }
        let mut rates = Vec::new();
        let mut budgets = Vec::new();
        for (scope, limits, budget) in entries {
            if limits.rpm.is_some() || limits.tpm.is_some() {
                rates.push(RateLevel {
                    scope: scope.clone(),
                    window: self.window,
                    requests: limits.rpm.map(u64::from),
                    tokens: limits.tpm,
                });
            }
            if let Some(budget) = budget {
                budgets.push(budget_level(scope, &budget));
            }
        }
        (rates, budgets)
    }

    /// Checks the rate limits and reserves the estimated cost at every level of `policy` (and
    /// of `end_user`, when the request names one).
    pub async fn admit(
        &self,
        policy: &KeyPolicy,
        end_user: Option<&str>,
        estimate: Estimate,
    ) -> Result<Admission, Denied> {
        let team = self.team(policy).await?;
        let org = self.org(policy).await?;
        let (rate_levels, budget_levels) = self.levels(policy, team.as_deref(), &org, end_user);
        let decision = self
            .limits
            .check_rate(&rate_levels, estimate.tokens)
            .await
            .map_err(|e| unavailable(&e))?;
        let headers = decision.headers();
        if let Some(denial) = &decision.denied {
            let what = match denial.dimension {
                keyway_store::limits::Dimension::Requests => "requests",
                keyway_store::limits::Dimension::Tokens => "tokens",
            };
            let limit = rate_levels
                .iter()
                .find(|l| l.scope == denial.scope)
                .and_then(|l| match denial.dimension {
                    keyway_store::limits::Dimension::Requests => l.requests,
                    keyway_store::limits::Dimension::Tokens => l.tokens,
                })
                .unwrap_or(0);
            let message = format!(
                "Rate limit reached for this {level}: {limit} {what} per {window} s. Retry in {retry:.1} s.",
                level = level_name(denial.scope.kind),
                window = self.window.as_secs_f64(),
                retry = denial.retry_after.as_secs_f64(),
            );
            return Err(Denied {
                error: GatewayError::too_many_requests("rate_limit_exceeded", message),
                headers,
            });
        }
        let reservation = if budget_levels.is_empty() {
            None
        } else {
            match self.limits.reserve(&budget_levels, estimate.max_cost).await {
                Ok(BudgetDecision::Reserved(r)) => Some(r),
                Ok(BudgetDecision::Exceeded {
                    scope,
                    period,
                    spent,
                    reserved,
                    limit,
                }) => {
                    self.give_back_tokens(&rate_levels, estimate.tokens);
                    let mut headers = headers;
                    let (_, resets) = period.at(chrono::Utc::now());
                    if let Some(resets) = resets {
                        let secs = (resets - chrono::Utc::now()).num_seconds().max(1);
                        headers.retain(|(n, _)| *n != "retry-after");
                        headers.push(("retry-after", secs.to_string()));
                    }
                    let message = format!(
                        "Budget exhausted for this {level}: spent ${spent} (${reserved} in flight) of its {period} budget of ${limit}.{when}",
                        level = level_name(scope.kind),
                        period = period_name(period),
                        when = resets.map_or_else(
                            || " Raise the budget to continue.".to_owned(),
                            |t| format!(" It starts over at {}.", t.to_rfc3339())
                        ),
                    );
                    return Err(Denied {
                        error: GatewayError::too_many_requests("budget_exceeded", message),
                        headers,
                    });
                }
                Err(e) => {
                    self.give_back_tokens(&rate_levels, estimate.tokens);
                    return Err(unavailable(&e));
                }
            }
        };
        Ok(Admission {
            rate_levels,
            estimated_tokens: estimate.tokens,
            reservation,
            headers,
        })
    }

    /// Takes back tokens counted for a request that was refused after its rate check.
    fn give_back_tokens(&self, levels: &[RateLevel], tokens: u64) {
        if levels.is_empty() || tokens == 0 {
            return;
        }
        let limits = self.limits.clone();
        let levels = levels.to_vec();
        let delta = -i64::try_from(tokens).unwrap_or(i64::MAX);
        spawn(async move {
            if let Err(e) = limits.record_tokens(&levels, delta).await {
                tracing::warn!(error = %e, "returning tokens of a refused request failed");
            }
        });
    }

    /// Drops cached team and organization limits a control-plane change may have altered
    /// (teams are few and re-read in one query, so an organization's change drops them all).
    pub fn evict(&self, change: &Change) {
        match change {
            Change::Key(_) => {}
            Change::Org(org) => {
                self.orgs.invalidate(org);
                self.teams.invalidate_all();
            }
            Change::All => {
                self.orgs.invalidate_all();
                self.teams.invalidate_all();
            }
        }
    }

    /// Step 6 for one request, as the surfaces call it: admits and attaches the settlement to
    /// `recorder` (returning the rate headers for the response), or records and returns the
    /// refusal.
    pub async fn gate(
        &self,
        req: &HttpRequest,
        policy: &KeyPolicy,
        estimate: Estimate,
        recorder: &mut Recorder,
    ) -> Result<Vec<(&'static str, String)>, Denied> {
        let end_user = end_user(req)?;
        if let Some(user) = &end_user {
            recorder.event().end_user_id = Some(user.clone());
        }
        let admission = self.admit(policy, end_user.as_deref(), estimate).await?;
        let headers = admission.headers.clone();
        self.attach(admission, recorder);
        Ok(headers)
    }

    /// Settles `admission` when `recorder` finishes: real cost and real tokens.
    pub fn attach(&self, admission: Admission, recorder: &mut Recorder) {
        if !admission.holds_anything() {
            return;
        }
        let limits = self.limits.clone();
        let alerts = self.alerts.clone();
        recorder.on_finish(Box::new(move |event| {
            let cost = Usd::from_nanos(event.cost_nano_usd.max(0));
            let used = u64::from(event.input_tokens) + u64::from(event.output_tokens);
            let delta = i64::try_from(used)
                .unwrap_or(i64::MAX)
                .saturating_sub(i64::try_from(admission.estimated_tokens).unwrap_or(i64::MAX));
            let request_id = event.request_id.clone();
            spawn(async move {
                if let Err(e) = limits.record_tokens(&admission.rate_levels, delta).await {
                    tracing::warn!(error = %e, request_id, "correcting token counts failed");
                }
                let Some(reservation) = admission.reservation else {
                    return;
                };
                let result = if cost > Usd::ZERO {
                    limits.settle(&reservation, cost).await
                } else {
                    limits.release(&reservation).await.map(|()| Vec::new())
                };
                match result {
                    Ok(crossings) => {
                        for c in &crossings {
                            alerts.crossed(c).await;
                        }
                    }
                    Err(e) => tracing::error!(error = %e, request_id, "settling a budget failed"),
                }
            });
        }));
    }
}

/// The end user the request names in [`END_USER_HEADER`], if any.
fn end_user(req: &HttpRequest) -> Result<Option<String>, Denied> {
    let Some(value) = req.headers().get(END_USER_HEADER) else {
        return Ok(None);
    };
    let refuse = |message: &str| Denied {
        error: GatewayError::bad_request(message, Some(END_USER_HEADER)),
        headers: Vec::new(),
    };
    let user = value
        .to_str()
        .map_err(|_| refuse("`x-keyway-user` must be visible ASCII text."))?
        .trim();
    if user.is_empty() {
        return Ok(None);
    }
    if user.len() > MAX_END_USER_LEN {
        return Err(refuse("`x-keyway-user` must be at most 256 characters."));
    }
    Ok(Some(user.to_owned()))
}

/// Runs `fut` on the current runtime; settlement never blocks the response.
fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(fut);
        }
        Err(_) => tracing::error!("no runtime to settle limits on"),
    }
}
