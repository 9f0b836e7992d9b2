//! Rate limits (requests and tokens per window) and budgets (spend per period) at several levels
//! at once — key, team, org, end user — exact across gateway processes.
//!
//! # Rate limits: sliding window of slots
//! Each level's window (e.g. 60 s) is cut into [`SLOTS`] slots; a level's usage is the sum of the
//! current slot and the `SLOTS` before it. A request is admitted only if every level still has
//! room, and then counted in every level's current slot — one Redis script call for all levels,
//! so processes never interleave between check and count.
//!
//! Why this and not the alternatives: a fixed window admits up to twice the limit around a
//! window boundary (`limit` at 0:59, `limit` again at 1:00); GCRA allows `limit` as a burst *plus*
//! the steady rate, so up to ~2x in any window too; a request log is exact but cannot carry token
//! counts and grows with the limit. Slotted counters carry weights (tokens), use O(`SLOTS`)
//! memory per level, and never admit more than the limit in *any* rolling window (the counted
//! span covers at least the whole window); the price is conservatism — history is forgotten up to
//! one slot (window / `SLOTS`) late.
//!
//! Tokens are counted with an estimate at admission ([`Limits::check_rate`]) and corrected with
//! the real usage afterwards ([`Limits::record_tokens`]).
//!
//! # Budgets: reserve, then settle
//! [`Limits::reserve`] checks every level's `spent + reserved` and reserves the request's maximum
//! cost at all of them, or at none (one script). [`Limits::settle`] replaces the reservation with
//! the real cost and reports thresholds crossed for the first time in the period (once per
//! level, threshold and period); [`Limits::release`] drops it after a failure. Reservations that
//! are never settled (a crashed process) expire after [`LimitOptions::reservation_ttl`]. Settling
//! is idempotent (a marker per reservation id).
//!
//! Admission: with `allow_final_overrun` off, a reservation must fit under the limit, so spend
//! never exceeds it (while real costs stay within their reservations). With it on, a request is
//! admitted while any headroom is left, so the limit is overrun by at most one reservation in
//! total — even under concurrency across processes, because check and reserve are one script.
//!
//! # When Redis is unreachable
//! Every Redis call has a short timeout ([`LimitOptions::redis_timeout`]); after a failure Redis
//! is skipped for [`LimitOptions::retry_interval`] and then probed again by the next call, so
//! requests never hang and the limiter recovers by itself. Meanwhile [`Unavailable`] decides:
//! fail closed ([`LimitError::Unavailable`]), or a bounded local allowance — in-process limits
//! scaled by `rate_share` and at most `budget` of spend per level and period per process. Spend
//! settled while Redis was down is queued (bounded) and charged to Redis when it is back.
//!
//! Make one [`Limits`] per process and clone it: the in-process fallback state, the Redis
//! down-marker and the replay queue live in it.
//!
//! Keys carry the org as a Redis Cluster hash tag (`{org}`), so one script's keys share a slot.
//! Amounts are integer nano-USD; Lua numbers are exact up to 2^53 (about $9M per level).

use crate::Kv;
use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveDate, TimeZone, Utc};
use keyway_domain::Usd;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Slots per rate window.
pub const SLOTS: i64 = 10;
/// Percentages of a budget at which [`Limits::settle`] reports a crossing by default.
pub const DEFAULT_THRESHOLDS: [u8; 3] = [50, 80, 100];
/// Most settlements kept for replay while Redis is unreachable.
const MAX_PENDING: usize = 100_000;

/// Errors of the limiter.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// Redis is unreachable and the configured mode is to fail closed.
    #[error("limits are unavailable (redis unreachable)")]
    Unavailable,
    /// Redis answered with an error (a bug or a misconfigured server).
    #[error("redis error")]
    Redis(#[from] redis::RedisError),
    /// The limiter's input is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// What to do while Redis is unreachable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unavailable {
    /// Refuse: every check returns [`LimitError::Unavailable`].
    FailClosed,
    /// Enforce in-process: rate limits scaled by `rate_share` (e.g. 1 / replicas), and at most
    /// `budget` of spend per level and period in this process.
    LocalAllowance {
        /// Share of each rate limit this process may use alone (0-1].
        rate_share: f64,
        /// Spend this process may allow per level and period while Redis is down.
        budget: Usd,
    },
}

/// Limiter settings.
#[derive(Debug, Clone, Copy)]
pub struct LimitOptions {
    /// Longest wait for one Redis call.
    pub redis_timeout: Duration,
    /// How long Redis is skipped after a failure before the next call probes it again.
    pub retry_interval: Duration,
    /// Behaviour while Redis is unreachable.
    pub on_unavailable: Unavailable,
    /// Lifetime of an unsettled reservation.
    pub reservation_ttl: Duration,
    /// Admit while any headroom is left (overrun <= one reservation) instead of only when the
    /// reservation fits.
    pub allow_final_overrun: bool,
}

impl Default for LimitOptions {
    fn default() -> Self {
        Self {
            redis_timeout: Duration::from_millis(250),
            retry_interval: Duration::from_secs(1),
            on_unavailable: Unavailable::FailClosed,
            reservation_ttl: Duration::from_secs(15 * 60),
            allow_final_overrun: false,
        }
    }
}

/// Who a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// The organization.
    Org,
    /// A team.
    Team,
    /// A virtual key.
    Key,
    /// An end user (`x-keyway-user`).
    EndUser,
}

impl ScopeKind {
    fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Org => "org",
            ScopeKind::Team => "team",
            ScopeKind::Key => "key",
            ScopeKind::EndUser => "user",
        }
    }
}

/// One limited entity within an org.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    /// Org id (the Redis hash tag).
    pub org: String,
    /// Level.
    pub kind: ScopeKind,
    /// Entity id within the org (the org id again for the org level).
    pub id: String,
}

impl Scope {
    /// A scope.
    pub fn new(org: impl Into<String>, kind: ScopeKind, id: impl Into<String>) -> Self {
        Self {
            org: org.into(),
            kind,
            id: id.into(),
        }
    }

    fn key(&self) -> String {
        // Ids are ours (uuids, slugs) or the caller's end-user string: escape the separator.
        format!(
            "{{{}}}:{}:{}",
            self.org.replace(['{', '}'], "_"),
            self.kind.as_str(),
            self.id.replace(':', "%3A")
        )
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.id)
    }
}

// ---------------------------------------------------------------------------------------------
// Rate limits

/// A rate limit at one level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLevel {
    /// Who.
    pub scope: Scope,
    /// Window length (60 s for RPM / TPM).
    pub window: Duration,
    /// Requests per window.
    pub requests: Option<u64>,
    /// Tokens per window.
    pub tokens: Option<u64>,
}

/// Requests or tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Requests.
    Requests,
    /// Tokens.
    Tokens,
}

/// Room left in one dimension, at its tightest level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headroom {
    /// The limit.
    pub limit: u64,
    /// What is left of it (after this request when admitted).
    pub remaining: u64,
    /// Until the next counted slot leaves the window (capacity grows again).
    pub reset: Duration,
}

/// Which level refused and when to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateDenial {
    /// The level.
    pub scope: Scope,
    /// The exhausted dimension.
    pub dimension: Dimension,
    /// When enough capacity frees up for this request.
    pub retry_after: Duration,
}

/// Outcome of a rate check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateDecision {
    /// Why it was refused, if it was.
    pub denied: Option<RateDenial>,
    /// Tightest request limit.
    pub requests: Option<Headroom>,
    /// Tightest token limit.
    pub tokens: Option<Headroom>,
    /// Decided in-process because Redis is unreachable.
    pub local: bool,
}

impl RateDecision {
    /// Whether the request may go ahead.
    pub fn allowed(&self) -> bool {
        self.denied.is_none()
    }

    /// `x-ratelimit-*` headers (OpenAI's names), plus `retry-after` when refused.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let fmt_reset = |d: Duration| format!("{:.3}s", d.as_secs_f64());
        if let Some(h) = self.requests {
            out.push(("x-ratelimit-limit-requests", h.limit.to_string()));
            out.push(("x-ratelimit-remaining-requests", h.remaining.to_string()));
            out.push(("x-ratelimit-reset-requests", fmt_reset(h.reset)));
        }
        if let Some(h) = self.tokens {
            out.push(("x-ratelimit-limit-tokens", h.limit.to_string()));
            out.push(("x-ratelimit-remaining-tokens", h.remaining.to_string()));
            out.push(("x-ratelimit-reset-tokens", fmt_reset(h.reset)));
        }
        if let Some(d) = &self.denied {
            out.push((
                "retry-after",
                d.retry_after.as_secs_f64().ceil().max(1.0).to_string(),
            ));
        }
        out
    }
}

/// Raw outcome shared by the Redis and in-process engines.
struct RateRaw {
    /// 0 admitted, else 1-based level index that refused.
    denied_level: usize,
    /// 1 requests, 2 tokens.
    denied_dim: i64,
    retry_ms: i64,
    /// Per level: used requests, used tokens, reset ms requests, reset ms tokens.
    per_level: Vec<[i64; 4]>,
}

const RATE_LUA: &str = r"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local req = tonumber(ARGV[1])
local tok = tonumber(ARGV[2])
local force = ARGV[3] == '1'
local S = tonumber(ARGV[4])
local n = #KEYS
local info = {}
local denied, ddim, dretry = 0, 0, 0
for i = 1, n do
  local w = tonumber(ARGV[5 + (i - 1) * 3])
  local rl = tonumber(ARGV[6 + (i - 1) * 3])
  local tl = tonumber(ARGV[7 + (i - 1) * 3])
  local slot = math.max(1, math.floor(w / S))
  local cur = math.floor(now / slot)
  local oldest = cur - S
  local all = redis.call('HGETALL', KEYS[i])
  local ur, ut = 0, 0
  local rs, ts, stale = {}, {}, {}
  for j = 1, #all, 2 do
    local f = all[j]
    local v = tonumber(all[j + 1])
    local idx = tonumber(string.sub(f, 3))
    if idx < oldest then
      table.insert(stale, f)
    elseif string.sub(f, 1, 1) == 'r' then
      ur = ur + v; rs[idx] = v
    else
      ut = ut + v; ts[idx] = v
    end
  end
  local function reset(counts)
    for idx = oldest, cur do
      if (counts[idx] or 0) > 0 then return (idx + S + 1) * slot - now end
    end
    return 0
  end
  local function retry(counts, used, cost, limit)
    local freed = 0
    for idx = oldest, cur do
      freed = freed + (counts[idx] or 0)
      if used - freed + cost <= limit then return (idx + S + 1) * slot - now end
    end
    return (cur + S + 1) * slot - now
  end
  if not force and denied == 0 then
    if rl >= 0 and ur + req > rl and req > 0 then
      denied, ddim, dretry = i, 1, retry(rs, ur, req, rl)
    elseif tl >= 0 and ut > 0 and ut + tok > tl then
      denied, ddim, dretry = i, 2, retry(ts, ut, tok, tl)
    end
  end
  info[i] = {ur, ut, rs, ts, reset, cur, stale, w, slot}
end
local out = {denied, ddim, dretry}
for i = 1, n do
  local x = info[i]
  local ur, ut = x[1], x[2]
  if denied == 0 then
    if req ~= 0 then
      redis.call('HINCRBY', KEYS[i], 'r:' .. x[6], ARGV[1]); ur = ur + req
      x[3][x[6]] = (x[3][x[6]] or 0) + req
    end
    if tok ~= 0 then
      redis.call('HINCRBY', KEYS[i], 't:' .. x[6], ARGV[2]); ut = ut + tok
      x[4][x[6]] = (x[4][x[6]] or 0) + tok
    end
    if #x[7] > 0 then redis.call('HDEL', KEYS[i], unpack(x[7])) end
    redis.call('PEXPIRE', KEYS[i], x[8] + 2 * x[9])
  end
  table.insert(out, ur); table.insert(out, ut)
  table.insert(out, x[5](x[3])); table.insert(out, x[5](x[4]))
end
return out
";

// ---------------------------------------------------------------------------------------------
// Budgets

/// Budget period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// UTC day.
    Daily,
    /// ISO week (Monday to Sunday, UTC).
    Weekly,
    /// Calendar month (UTC).
    Monthly,
    /// Never resets.
    Total,
}

impl Period {
    /// The period containing `now`: its id and when it ends (`None` for [`Period::Total`]).
    pub fn at(self, now: DateTime<Utc>) -> (String, Option<DateTime<Utc>>) {
        let day = now.date_naive();
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
        match self {
            Period::Total => ("total".to_owned(), None),
            Period::Daily => (
                format!("d{}", day.format("%Y-%m-%d")),
                midnight(day + ChronoDuration::days(1)),
            ),
            Period::Weekly => {
                let monday =
                    day - ChronoDuration::days(i64::from(day.weekday().num_days_from_monday()));
                (
                    format!("w{}", monday.format("%Y-%m-%d")),
                    midnight(monday + ChronoDuration::days(7)),
                )
            }
            Period::Monthly => {
                let (y, m) = if day.month() == 12 {
                    (day.year() + 1, 1)
                } else {
                    (day.year(), day.month() + 1)
                };
                (
                    format!("m{}", day.format("%Y-%m")),
                    NaiveDate::from_ymd_opt(y, m, 1).and_then(midnight),
                )
            }
        }
    }
}

/// A budget at one level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetLevel {
    /// Who.
    pub scope: Scope,
    /// Spend allowed per period.
    pub limit: Usd,
    /// Period.
    pub period: Period,
    /// Percentages reported once per period when crossed (e.g. [`DEFAULT_THRESHOLDS`]).
    pub thresholds: Vec<u8>,
}

/// A budget level as held by a reservation (its period fixed at reservation time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Held {
    scope: Scope,
    period: Period,
    period_id: String,
    limit: i64,
    thresholds: Vec<u8>,
    key_ttl_ms: i64,
}

impl Held {
    fn of(level: &BudgetLevel, now: DateTime<Utc>) -> Self {
        let (period_id, end) = level.period.at(now);
        // Keep a finished period readable for a while (dashboards), then let it go.
        let key_ttl_ms = end.map_or(0, |end| {
            (end - now + ChronoDuration::days(40))
                .num_milliseconds()
                .max(1)
        });
        Self {
            scope: level.scope.clone(),
            period: level.period,
            period_id,
            limit: level.limit.nanos(),
            thresholds: level.thresholds.clone(),
            key_ttl_ms,
        }
    }

    fn key(&self) -> String {
        format!("bg:{}:{}", self.scope.key(), self.period_id)
    }

    fn thresholds_csv(&self) -> String {
        let v: Vec<String> = self.thresholds.iter().map(u8::to_string).collect();
        v.join(",")
    }
}

/// Money held for one request at every budget level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    id: String,
    amount: Usd,
    held: Vec<Held>,
    local: bool,
}

impl Reservation {
    /// The reserved amount.
    pub fn amount(&self) -> Usd {
        self.amount
    }

    /// Whether it was made in-process while Redis was unreachable.
    pub fn is_local(&self) -> bool {
        self.local
    }

    /// Reservation id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Outcome of [`Limits::reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetDecision {
    /// Held at every level.
    Reserved(Reservation),
    /// A level has no room; nothing was held anywhere.
    Exceeded {
        /// The level.
        scope: Scope,
        /// Its period.
        period: Period,
        /// Settled spend in the period.
        spent: Usd,
        /// Held by in-flight requests.
        reserved: Usd,
        /// The limit.
        limit: Usd,
    },
}

/// A threshold crossed for the first time in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdCrossing {
    /// The level.
    pub scope: Scope,
    /// Its period.
    pub period: Period,
    /// Period id (`d2026-12-05`, `w2026-11-30`, `m2026-12`, `total`).
    pub period_id: String,
    /// Percent crossed.
    pub percent: u8,
    /// Spend after this settlement.
    pub spent: Usd,
    /// The limit.
    pub limit: Usd,
}

/// Spend of one level in the current period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spend {
    /// Period id.
    pub period_id: String,
    /// Settled spend.
    pub spent: Usd,
    /// Held by in-flight requests.
    pub reserved: Usd,
    /// When the period ends.
    pub resets_at: Option<DateTime<Utc>>,
}

const RESERVE_LUA: &str = r"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id, amount, ttl, overrun = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local n = #KEYS / 2
local function purge(state, zset)
  local expired = redis.call('ZRANGEBYSCORE', zset, '-inf', now)
  for _, rid in ipairs(expired) do
    local amt = redis.call('HGET', state, 'r:' .. rid)
    if amt then
      redis.call('HINCRBY', state, 'reserved', '-' .. amt)
      redis.call('HDEL', state, 'r:' .. rid)
    end
    redis.call('ZREM', zset, rid)
  end
end
for i = 1, n do
  local state, zset = KEYS[2 * i - 1], KEYS[2 * i]
  purge(state, zset)
  local limit = tonumber(ARGV[3 + 2 * i])
  local spent = tonumber(redis.call('HGET', state, 'spent') or '0')
  local reserved = tonumber(redis.call('HGET', state, 'reserved') or '0')
  local used = spent + reserved
  local ok = used < limit and (overrun or used + amount <= limit)
  if not ok then return {0, i, spent, reserved} end
end
for i = 1, n do
  local state, zset = KEYS[2 * i - 1], KEYS[2 * i]
  local key_ttl = tonumber(ARGV[4 + 2 * i])
  redis.call('HINCRBY', state, 'reserved', ARGV[2])
  redis.call('HSET', state, 'r:' .. id, ARGV[2])
  redis.call('ZADD', zset, now + ttl, id)
  if key_ttl > 0 then
    redis.call('PEXPIRE', state, key_ttl); redis.call('PEXPIRE', zset, key_ttl)
  end
end
return {1, 0, 0, 0}
";

/// KEYS: settled marker, then per level (state, zset). ARGV: id, actual, marker ttl, charge
/// flag, then per level (limit, key ttl, thresholds csv). Returns per level: spent, crossed %.
const SETTLE_LUA: &str = r"
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[3]) == false then return {-1} end
local id, charge = ARGV[1], ARGV[4] == '1'
local actual = tonumber(ARGV[2])
local n = (#KEYS - 1) / 2
local out = {}
for i = 1, n do
  local state, zset = KEYS[2 * i], KEYS[2 * i + 1]
  local limit = tonumber(ARGV[2 + 3 * i])
  local key_ttl = tonumber(ARGV[3 + 3 * i])
  local amt = redis.call('HGET', state, 'r:' .. id)
  if amt then
    redis.call('HINCRBY', state, 'reserved', '-' .. amt)
    redis.call('HDEL', state, 'r:' .. id)
  end
  redis.call('ZREM', zset, id)
  local spent = tonumber(redis.call('HGET', state, 'spent') or '0')
  local crossed = 0
  if charge and actual > 0 then
    spent = redis.call('HINCRBY', state, 'spent', ARGV[2])
    if key_ttl > 0 then redis.call('PEXPIRE', state, key_ttl) end
    local alerted = tonumber(redis.call('HGET', state, 'alerted') or '0')
    for th in string.gmatch(ARGV[4 + 3 * i], '%d+') do
      local p = tonumber(th)
      if p > alerted and p > crossed and spent >= limit * p / 100 then crossed = p end
    end
    if crossed > 0 then redis.call('HSET', state, 'alerted', crossed) end
  end
  table.insert(out, spent); table.insert(out, crossed)
end
return out
";

const STATUS_LUA: &str = r"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state, zset = KEYS[1], KEYS[2]
local expired = redis.call('ZRANGEBYSCORE', zset, '-inf', now)
for _, rid in ipairs(expired) do
  local amt = redis.call('HGET', state, 'r:' .. rid)
  if amt then
    redis.call('HINCRBY', state, 'reserved', '-' .. amt)
    redis.call('HDEL', state, 'r:' .. rid)
  end
  redis.call('ZREM', zset, rid)
end
return {tonumber(redis.call('HGET', state, 'spent') or '0'),
        tonumber(redis.call('HGET', state, 'reserved') or '0')}
";

// ---------------------------------------------------------------------------------------------
// Engines

struct Remote {
    conn: ConnectionManager,
    prefix: String,
    rate: redis::Script,
    reserve: redis::Script,
    settle: redis::Script,
    status: redis::Script,
}

/// In-process state with the same semantics as the scripts.
#[derive(Default)]
struct Local {
    windows: Mutex<HashMap<String, BTreeMap<i64, [i64; 2]>>>,
    budgets: Mutex<HashMap<String, Cell>>,
    settled: Mutex<HashMap<String, i64>>,
}

#[derive(Default)]
struct Cell {
    spent: i64,
    /// id -> (amount, expiry ms)
    holds: HashMap<String, (i64, i64)>,
    alerted: i64,
}

impl Cell {
    fn purge(&mut self, now: i64) {
        self.holds.retain(|_, (_, exp)| *exp > now);
    }
    fn reserved(&self) -> i64 {
        self.holds.values().map(|(a, _)| a).sum()
    }
}

#[derive(Clone)]
struct Pending {
    reservation: Reservation,
    actual: Usd,
}

struct Inner {
    remote: Option<Remote>,
    local: Local,
    options: LimitOptions,
    down_until: Mutex<Option<Instant>>,
    pending: Mutex<Vec<Pending>>,
    flushing: AtomicBool,
}

/// Rate limits and budgets over a [`Kv`]: Redis scripts when it is Redis, the same semantics
/// in-process when it is memory.
#[derive(Clone)]
pub struct Limits {
    inner: Arc<Inner>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section leaves the maps consistent, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

fn limit_arg(v: Option<u64>) -> i64 {
    v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX))
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v.max(0)).unwrap_or(0)
}

fn dur(v: i64) -> Duration {
    Duration::from_millis(to_u64(v))
}

/// Whether a Redis error means "not reachable" (as opposed to Redis refusing a command).
fn unreachable(e: &redis::RedisError) -> bool {
    !matches!(
        e.kind(),
        redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
    )
}

enum Call<T> {
    Done(T),
    Down,
}

impl Limits {
    /// Limits over `kv`.
    pub fn new(kv: &Kv, options: LimitOptions) -> Self {
        let remote = kv.redis_parts().map(|(conn, prefix)| Remote {
            conn,
            prefix: prefix.to_owned(),
            rate: redis::Script::new(RATE_LUA),
            reserve: redis::Script::new(RESERVE_LUA),
            settle: redis::Script::new(SETTLE_LUA),
            status: redis::Script::new(STATUS_LUA),
        });
        Self {
            inner: Arc::new(Inner {
                remote,
                local: Local::default(),
                options,
                down_until: Mutex::new(None),
                pending: Mutex::new(Vec::new()),
                flushing: AtomicBool::new(false),
            }),
        }
    }

    /// Whether Redis is currently considered unreachable.
    pub fn degraded(&self) -> bool {
        self.inner.remote.is_some()
            && lock(&self.inner.down_until).is_some_and(|t| t > Instant::now())
    }

    /// Settlements waiting for Redis.
    pub fn pending_settlements(&self) -> usize {
        lock(&self.inner.pending).len()
    }

    /// Runs one Redis invocation with the timeout and the down-marker.
    async fn call<T: redis::FromRedisValue>(
        &self,
        inv: redis::ScriptInvocation<'_>,
    ) -> Result<Call<T>, LimitError> {
        let Some(remote) = &self.inner.remote else {
            return Ok(Call::Down);
        };
        if lock(&self.inner.down_until).is_some_and(|t| t > Instant::now()) {
            return Ok(Call::Down);
        }
        let mut conn = remote.conn.clone();
        let result = tokio::time::timeout(
            self.inner.options.redis_timeout,
            inv.invoke_async::<T>(&mut conn),
        )
        .await;
        match result {
            Ok(Ok(v)) => {
                *lock(&self.inner.down_until) = None;
                Ok(Call::Done(v))
            }
            Ok(Err(e)) if !unreachable(&e) => Err(LimitError::Redis(e)),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "redis unreachable; limits use the fallback mode");
                *lock(&self.inner.down_until) =
                    Some(Instant::now() + self.inner.options.retry_interval);
                Ok(Call::Down)
            }
            Err(_) => {
                tracing::warn!("redis timed out; limits use the fallback mode");
                *lock(&self.inner.down_until) =
                    Some(Instant::now() + self.inner.options.retry_interval);
                Ok(Call::Down)
            }
        }
    }

    fn fallback_allowance(&self) -> Result<(f64, Usd), LimitError> {
        match self.inner.options.on_unavailable {
            _ if self.inner.remote.is_none() => Ok((1.0, Usd::from_nanos(i64::MAX))),
            Unavailable::FailClosed => Err(LimitError::Unavailable),
            Unavailable::LocalAllowance { rate_share, budget } => {
                Ok((rate_share.clamp(0.0, 1.0), budget))
            }
        }
    }

    // ---- rate ----

    /// Checks every level and, if all have room, counts one request and `tokens` (an estimate)
    /// at every level. Nothing is counted when a level refuses.
    pub async fn check_rate(
        &self,
        levels: &[RateLevel],
        tokens: u64,
    ) -> Result<RateDecision, LimitError> {
        self.rate(levels, 1, i64::try_from(tokens).unwrap_or(i64::MAX), false)
            .await
    }

    /// Adds `delta` tokens (real usage minus the estimate; may be negative) at every level,
    /// without checking. While Redis is unreachable the correction is dropped (fail-closed) or
    /// applied in-process (local allowance); neither is an error.
    pub async fn record_tokens(&self, levels: &[RateLevel], delta: i64) -> Result<(), LimitError> {
        if delta == 0 {
            return Ok(());
        }
        match self.rate(levels, 0, delta, true).await {
            Ok(_) | Err(LimitError::Unavailable) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn rate(
        &self,
        levels: &[RateLevel],
        req: i64,
        tok: i64,
        force: bool,
    ) -> Result<RateDecision, LimitError> {
        if levels.is_empty() {
            return Ok(RateDecision {
                denied: None,
                requests: None,
                tokens: None,
                local: false,
            });
        }
        self.flush_pending();
        if let Some(remote) = &self.inner.remote {
            let mut inv = remote.rate.prepare_invoke();
            for l in levels {
                inv.key(format!(
                    "{}rl:{}:{}",
                    remote.prefix,
                    l.scope.key(),
                    ms(l.window)
                ));
            }
            inv.arg(req)
                .arg(tok)
                .arg(if force { "1" } else { "0" })
                .arg(SLOTS);
            for l in levels {
                inv.arg(ms(l.window))
                    .arg(limit_arg(l.requests))
                    .arg(limit_arg(l.tokens));
            }
            if let Call::Done(v) = self.call::<Vec<i64>>(inv).await? {
                return Ok(decide(levels, &parse_rate(&v, levels.len())?, 1.0, false));
            }
        }
        let (share, _) = self.fallback_allowance()?;
        let local = self.inner.remote.is_some();
        let raw = self
            .inner
            .local
            .rate(levels, req, tok, force, share, now_ms());
        Ok(decide(levels, &raw, share, local))
    }

    // ---- budgets ----

    /// Reserves `amount` at every level (all or nothing).
    pub async fn reserve(
        &self,
        levels: &[BudgetLevel],
        amount: Usd,
    ) -> Result<BudgetDecision, LimitError> {
        let now = Utc::now();
        let held: Vec<Held> = levels.iter().map(|l| Held::of(l, now)).collect();
        let id = uuid::Uuid::new_v4().to_string();
        let amount_n = amount.nanos().max(0);
        self.flush_pending();
        if let Some(remote) = &self.inner.remote {
            let mut inv = remote.reserve.prepare_invoke();
            for h in &held {
                let key = format!("{}{}", remote.prefix, h.key());
                inv.key(&key).key(format!("{key}:exp"));
            }
            inv.arg(&id)
                .arg(amount_n)
                .arg(ms(self.inner.options.reservation_ttl))
                .arg(if self.inner.options.allow_final_overrun {
                    "1"
                } else {
                    "0"
                });
            for h in &held {
                inv.arg(h.limit).arg(h.key_ttl_ms);
            }
            if let Call::Done(v) = self.call::<Vec<i64>>(inv).await? {
                return Ok(budget_decision(&v, levels, &held, id, amount, false));
            }
        }
        let (_, allowance) = self.fallback_allowance()?;
        let local = self.inner.remote.is_some();
        let v = self.inner.local.reserve(
            &held,
            &id,
            amount_n,
            allowance.nanos(),
            &self.inner.options,
            now_ms(),
        );
        Ok(budget_decision(&v, levels, &held, id, amount, local))
    }

    /// Replaces the reservation with the real cost; returns thresholds crossed for the first time
    /// in their period. Settling twice has no further effect.
    pub async fn settle(
        &self,
        reservation: &Reservation,
        actual: Usd,
    ) -> Result<Vec<ThresholdCrossing>, LimitError> {
        self.flush_pending();
        self.finish(reservation, actual.nanos().max(0), true).await
    }

    /// Drops the reservation without spending (the request failed).
    pub async fn release(&self, reservation: &Reservation) -> Result<(), LimitError> {
        self.finish(reservation, 0, false).await.map(|_| ())
    }

    async fn finish(
        &self,
        r: &Reservation,
        actual: i64,
        charge: bool,
    ) -> Result<Vec<ThresholdCrossing>, LimitError> {
        let mut crossings = Vec::new();
        if r.local || self.inner.remote.is_none() {
            crossings = self
                .inner
                .local
                .settle(r, actual, charge, &self.inner.options, now_ms());
            if self.inner.remote.is_none() {
                return Ok(crossings);
            }
            if !charge || actual == 0 {
                return Ok(crossings);
            }
        }
        // Remote reservation (or a local one whose spend Redis must learn about).
        match self.remote_settle(r, actual, charge).await? {
            // Redis knows the period's whole spend, so its crossings are the ones to report.
            Some(remote_crossings) => crossings = remote_crossings,
            None => {
                if charge && actual > 0 {
                    let mut pending = lock(&self.inner.pending);
                    if pending.len() < MAX_PENDING {
                        pending.push(Pending {
                            reservation: r.clone(),
                            actual: Usd::from_nanos(actual),
                        });
                    } else {
                        tracing::error!("settlement queue full; dropping a charge");
                    }
                }
            }
        }
        Ok(crossings)
    }

    /// `Some(crossings)` when Redis took it, `None` when Redis is unreachable.
    async fn remote_settle(
        &self,
        r: &Reservation,
        actual: i64,
        charge: bool,
    ) -> Result<Option<Vec<ThresholdCrossing>>, LimitError> {
        let Some(remote) = &self.inner.remote else {
            return Ok(None);
        };
        let Some(first) = r.held.first() else {
            return Ok(Some(Vec::new()));
        };
        let mut inv = remote.settle.prepare_invoke();
        inv.key(format!(
            "{}bgs:{{{}}}:{}",
            remote.prefix,
            first.scope.org.replace(['{', '}'], "_"),
            r.id
        ));
        for h in &r.held {
            let key = format!("{}{}", remote.prefix, h.key());
            inv.key(&key).key(format!("{key}:exp"));
        }
        inv.arg(&r.id)
            .arg(actual)
            .arg(ms(self.inner.options.reservation_ttl) * 4)
            .arg(if charge { "1" } else { "0" });
        for h in &r.held {
            inv.arg(h.limit).arg(h.key_ttl_ms).arg(h.thresholds_csv());
        }
        match self.call::<Vec<i64>>(inv).await? {
            Call::Down => Ok(None),
            Call::Done(v) => Ok(Some(crossings_of(&v, &r.held))),
        }
    }

    /// Replays settlements queued while Redis was unreachable, in the background so the request
    /// that notices the recovery does not pay for the backlog.
    fn flush_pending(&self) {
        if self.inner.remote.is_none()
            || self.degraded()
            || lock(&self.inner.pending).is_empty()
            || self.inner.flushing.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.flushing.store(false, Ordering::SeqCst);
            return;
        };
        let this = self.clone();
        runtime.spawn(async move {
            this.drain_pending().await;
            this.inner.flushing.store(false, Ordering::SeqCst);
        });
    }

    async fn drain_pending(&self) {
        loop {
            let next = lock(&self.inner.pending).pop();
            let Some(p) = next else { return };
            match self
                .remote_settle(&p.reservation, p.actual.nanos(), true)
                .await
            {
                Ok(Some(_)) => {}
                Ok(None) => {
                    // Down again: keep it for the next recovery.
                    lock(&self.inner.pending).push(p);
                    return;
                }
                Err(e) => tracing::error!(error = %e, "replaying a settlement failed"),
            }
        }
    }

    /// Spend of `level` in its current period.
    pub async fn spend(&self, level: &BudgetLevel) -> Result<Spend, LimitError> {
        let now = Utc::now();
        let held = Held::of(level, now);
        let (_, end) = level.period.at(now);
        let done = |spent: i64, reserved: i64| Spend {
            period_id: held.period_id.clone(),
            spent: Usd::from_nanos(spent),
            reserved: Usd::from_nanos(reserved.max(0)),
            resets_at: end,
        };
        if let Some(remote) = &self.inner.remote {
            let key = format!("{}{}", remote.prefix, held.key());
            let mut inv = remote.status.prepare_invoke();
            inv.key(&key).key(format!("{key}:exp"));
            if let Call::Done(v) = self.call::<Vec<i64>>(inv).await? {
                return Ok(done(
                    v.first().copied().unwrap_or(0),
                    v.get(1).copied().unwrap_or(0),
                ));
            }
            self.fallback_allowance()?;
        }
        let (spent, reserved) = self.inner.local.status(&held, now_ms());
        Ok(done(spent, reserved))
    }
}

fn parse_rate(v: &[i64], n: usize) -> Result<RateRaw, LimitError> {
    if v.len() != 3 + 4 * n {
        return Err(LimitError::Invalid(format!(
            "rate script returned {} values for {n} levels",
            v.len()
        )));
    }
    Ok(RateRaw {
        denied_level: usize::try_from(v[0]).unwrap_or(0),
        denied_dim: v[1],
        retry_ms: v[2],
        per_level: (0..n)
            .map(|i| [v[3 + 4 * i], v[4 + 4 * i], v[5 + 4 * i], v[6 + 4 * i]])
            .collect(),
    })
}

fn scaled(limit: Option<u64>, share: f64) -> Option<u64> {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    limit.map(|l| ((l as f64 * share).floor() as u64).max(u64::from(l > 0)))
}

fn decide(levels: &[RateLevel], raw: &RateRaw, share: f64, local: bool) -> RateDecision {
    let mut requests: Option<Headroom> = None;
    let mut tokens: Option<Headroom> = None;
    for (l, u) in levels.iter().zip(&raw.per_level) {
        for (limit, used, reset, slot) in [
            (scaled(l.requests, share), u[0], u[2], &mut requests),
            (scaled(l.tokens, share), u[1], u[3], &mut tokens),
        ] {
            let Some(limit) = limit else { continue };
            let h = Headroom {
                limit,
                remaining: limit.saturating_sub(to_u64(used)),
                reset: dur(reset),
            };
            if slot.is_none_or(|cur| h.remaining < cur.remaining) {
                *slot = Some(h);
            }
        }
    }
    let denied = (raw.denied_level > 0)
        .then(|| levels.get(raw.denied_level - 1))
        .flatten()
        .map(|l| RateDenial {
            scope: l.scope.clone(),
            dimension: if raw.denied_dim == 2 {
                Dimension::Tokens
            } else {
                Dimension::Requests
            },
            retry_after: dur(raw.retry_ms),
        });
    RateDecision {
        denied,
        requests,
        tokens,
        local,
    }
}

fn budget_decision(
    v: &[i64],
    levels: &[BudgetLevel],
    held: &[Held],
    id: String,
    amount: Usd,
    local: bool,
) -> BudgetDecision {
    if v.first() == Some(&1) {
        return BudgetDecision::Reserved(Reservation {
            id,
            amount,
            held: held.to_vec(),
            local,
        });
    }
    let i = v
        .get(1)
        .and_then(|i| usize::try_from(*i).ok())
        .unwrap_or(1)
        .saturating_sub(1);
    let level = levels.get(i).or(levels.first());
    BudgetDecision::Exceeded {
        scope: level
            .map(|l| l.scope.clone())
            .unwrap_or_else(|| Scope::new("", ScopeKind::Org, "")),
        period: level.map_or(Period::Total, |l| l.period),
        spent: Usd::from_nanos(v.get(2).copied().unwrap_or(0)),
        reserved: Usd::from_nanos(v.get(3).copied().unwrap_or(0)),
        limit: level.map_or(Usd::ZERO, |l| l.limit),
    }
}

fn crossings_of(v: &[i64], held: &[Held]) -> Vec<ThresholdCrossing> {
    if v.first() == Some(&-1) {
        return Vec::new();
    }
    held.iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let spent = *v.get(2 * i)?;
            let crossed = *v.get(2 * i + 1)?;
            (crossed > 0).then(|| ThresholdCrossing {
                scope: h.scope.clone(),
                period: h.period,
                period_id: h.period_id.clone(),
                percent: u8::try_from(crossed).unwrap_or(u8::MAX),
                spent: Usd::from_nanos(spent),
                limit: Usd::from_nanos(h.limit),
            })
        })
        .collect()
}

impl Local {
    fn rate(
        &self,
        levels: &[RateLevel],
        req: i64,
        tok: i64,
        force: bool,
        share: f64,
        now: i64,
    ) -> RateRaw {
        let mut windows = lock(&self.windows);
        let mut denied = (0usize, 0i64, 0i64);
        let mut per = Vec::with_capacity(levels.len());
        let keys: Vec<String> = levels
            .iter()
            .map(|l| format!("{}:{}", l.scope.key(), ms(l.window)))
            .collect();
        for (i, (l, key)) in levels.iter().zip(&keys).enumerate() {
            let slot = (ms(l.window) / SLOTS).max(1);
            let cur = now / slot;
            let oldest = cur - SLOTS;
            let w = windows.entry(key.clone()).or_default();
            w.retain(|idx, _| *idx >= oldest);
            let used = |d: usize| w.values().map(|c| c[d]).sum::<i64>();
            let (ur, ut) = (used(0), used(1));
            let retry = |d: usize, used: i64, cost: i64, limit: i64| {
                let mut freed = 0;
                for (idx, c) in w.iter() {
                    freed += c[d];
                    if used - freed + cost <= limit {
                        return (idx + SLOTS + 1) * slot - now;
                    }
                }
                (cur + SLOTS + 1) * slot - now
            };
            if !force && denied.0 == 0 {
                let rl = scaled(l.requests, share).map(|v| i64::try_from(v).unwrap_or(i64::MAX));
                let tl = scaled(l.tokens, share).map(|v| i64::try_from(v).unwrap_or(i64::MAX));
                if let Some(rl) = rl
                    && req > 0
                    && ur + req > rl
                {
                    denied = (i + 1, 1, retry(0, ur, req, rl));
                } else if let Some(tl) = tl
                    && ut > 0
                    && ut + tok > tl
                {
                    denied = (i + 1, 2, retry(1, ut, tok, tl));
                }
            }
            per.push((cur, slot, ur, ut));
        }
        let mut out = Vec::with_capacity(levels.len());
        for (key, (cur, slot, mut ur, mut ut)) in keys.iter().zip(per) {
            let w = windows.entry(key.clone()).or_default();
            if denied.0 == 0 {
                let c = w.entry(cur).or_insert([0, 0]);
                c[0] += req;
                c[1] += tok;
                ur += req;
                ut += tok;
            }
            let reset = |d: usize| {
                w.iter()
                    .find(|(_, c)| c[d] > 0)
                    .map_or(0, |(idx, _)| (idx + SLOTS + 1) * slot - now)
            };
            out.push([ur, ut, reset(0), reset(1)]);
        }
        if windows.len() > 10_000 {
            // Forget levels whose every slot has left its window (the window length ends the key).
            windows.retain(|key, w| {
                let window = key
                    .rsplit(':')
                    .next()
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0);
                let slot = (window / SLOTS).max(1);
                w.last_key_value()
                    .is_some_and(|(idx, _)| (idx + SLOTS + 1) * slot > now)
            });
        }
        RateRaw {
            denied_level: denied.0,
            denied_dim: denied.1,
            retry_ms: denied.2,
            per_level: out,
        }
    }

    fn reserve(
        &self,
        held: &[Held],
        id: &str,
        amount: i64,
        allowance: i64,
        options: &LimitOptions,
        now: i64,
    ) -> Vec<i64> {
        let mut budgets = lock(&self.budgets);
        for (i, h) in held.iter().enumerate() {
            let cell = budgets.entry(h.key()).or_default();
            cell.purge(now);
            let limit = h.limit.min(allowance);
            let used = cell.spent + cell.reserved();
            let ok = used < limit && (options.allow_final_overrun || used + amount <= limit);
            if !ok {
                let idx = i64::try_from(i + 1).unwrap_or(1);
                return vec![0, idx, cell.spent, cell.reserved()];
            }
        }
        let expiry = now + ms(options.reservation_ttl);
        for h in held {
            budgets
                .entry(h.key())
                .or_default()
                .holds
                .insert(id.to_owned(), (amount, expiry));
        }
        vec![1, 0, 0, 0]
    }

    fn settle(
        &self,
        r: &Reservation,
        actual: i64,
        charge: bool,
        options: &LimitOptions,
        now: i64,
    ) -> Vec<ThresholdCrossing> {
        {
            let mut settled = lock(&self.settled);
            settled.retain(|_, exp| *exp > now);
            if settled
                .insert(r.id.clone(), now + ms(options.reservation_ttl) * 4)
                .is_some()
            {
                return Vec::new();
            }
        }
        let mut budgets = lock(&self.budgets);
        let mut v = Vec::with_capacity(2 * r.held.len());
        for h in &r.held {
            let cell = budgets.entry(h.key()).or_default();
            cell.holds.remove(&r.id);
            let mut crossed = 0;
            if charge && actual > 0 {
                cell.spent += actual;
                #[allow(clippy::cast_precision_loss)]
                let pct = |p: u8| cell.spent as f64 >= h.limit as f64 * f64::from(p) / 100.0;
                for p in &h.thresholds {
                    if i64::from(*p) > cell.alerted && i64::from(*p) > crossed && pct(*p) {
                        crossed = i64::from(*p);
                    }
                }
                if crossed > 0 {
                    cell.alerted = crossed;
                }
            }
            v.push(cell.spent);
            v.push(crossed);
        }
        crossings_of(&v, &r.held)
    }

    fn status(&self, held: &Held, now: i64) -> (i64, i64) {
        let mut budgets = lock(&self.budgets);
        let cell = budgets.entry(held.key()).or_default();
        cell.purge(now);
        (cell.spent, cell.reserved())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_and_end_on_utc_boundaries() {
        let t = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).single();
        let Some(t) = t else { panic!("valid date") };
        let (id, end) = Period::Daily.at(t);
        assert_eq!(id, "d2026-12-31");
        assert_eq!(end, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single());
        let (id, end) = Period::Weekly.at(t); // a Thursday
        assert_eq!(id, "w2026-12-28");
        assert_eq!(end, Utc.with_ymd_and_hms(2027, 1, 4, 0, 0, 0).single());
        let (id, end) = Period::Monthly.at(t);
        assert_eq!(id, "m2026-12");
        assert_eq!(end, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single());
        assert_eq!(Period::Total.at(t), ("total".to_owned(), None));
    }

    #[test]
    fn in_process_windows_of_idle_levels_are_forgotten() {
        let local = Local::default();
        let level = |i: usize| RateLevel {
            scope: Scope::new("o", ScopeKind::EndUser, format!("u{i}")),
            window: Duration::from_millis(100),
            requests: Some(1),
            tokens: None,
        };
        for i in 0..10_001 {
            local.rate(&[level(i)], 1, 0, false, 1.0, 1_000_000);
        }
        assert_eq!(lock(&local.windows).len(), 10_001);
        // 110 ms later every one of those slots has left its window.
        local.rate(&[level(0)], 1, 0, false, 1.0, 1_000_110);
        assert_eq!(lock(&local.windows).len(), 1);
    }

    #[test]
    fn scopes_keep_the_org_as_hash_tag_and_escape_ids() {
        let s = Scope::new("org-1", ScopeKind::EndUser, "alice:admin");
        assert_eq!(s.key(), "{org-1}:user:alice%3Aadmin");
    }

    #[test]
    fn headers_follow_openai_names() {
        let d = RateDecision {
            denied: Some(RateDenial {
                scope: Scope::new("o", ScopeKind::Key, "k"),
                dimension: Dimension::Requests,
                retry_after: Duration::from_millis(1500),
            }),
            requests: Some(Headroom {
                limit: 100,
                remaining: 0,
                reset: Duration::from_millis(1500),
            }),
            tokens: None,
            local: false,
        };
        assert_eq!(
            d.headers(),
            [
                ("x-ratelimit-limit-requests", "100".to_owned()),
                ("x-ratelimit-remaining-requests", "0".to_owned()),
                ("x-ratelimit-reset-requests", "1.500s".to_owned()),
                ("retry-after", "2".to_owned()),
            ]
        );
    }
}
