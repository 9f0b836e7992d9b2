//! Upstream target health: per target (credential + model) a latency EWMA, an error-rate EWMA
//! and a circuit breaker, plus the weight multiplier load balancing applies to degraded targets,
//! and the retry budget that caps retry load under total upstream failure.
//!
//! Circuit breaker: **closed** -> **open** after `failure_streak` consecutive failures, or when
//! the error rate reaches `failure_rate` over at least `min_samples` outcomes; **open** refuses
//! calls for `open_for` (doubling on each re-open up to `max_open_for`); then **half-open** lets
//! `half_open_probes` calls through at a time; `probes_to_close` successes close it, one failure
//! opens it again.
//!
//! State lives in-process ([`HealthTable`]); replicas share it through Redis with
//! [`HealthTable::publish`] (each replica writes its own view, one hash field per target and
//! replica) and [`HealthTable::merge`] (each replica reads the others' fresh views). A target
//! another replica has open is skipped here too until that replica's open period ends, and error
//! rate and latency are blended by sample count. Publishing every second or so is enough.
//!
//! Time comes from a [`Clock`], so tests drive it by hand.

use crate::{Kv, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Time source: monotonic for local decisions, wall-clock milliseconds for state shared with
/// other processes.
pub trait Clock: Send + Sync {
    /// Monotonic now.
    fn now(&self) -> Instant;
    /// Unix time in milliseconds.
    fn wall_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock tests move by hand.
#[derive(Debug, Clone)]
pub struct ManualClock {
    start: Instant,
    start_wall: i64,
    offset: Arc<Mutex<Duration>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            start_wall: SystemClock.wall_ms(),
            offset: Arc::default(),
        }
    }
}

impl ManualClock {
    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        *lock(&self.offset) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *lock(&self.offset)
    }
    fn wall_ms(&self) -> i64 {
        self.start_wall + i64::try_from(lock(&self.offset).as_millis()).unwrap_or(i64::MAX)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Updates are single assignments; a poisoned lock still holds consistent data.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Circuit breaker and EWMA settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthConfig {
    /// Weight of a new sample in the EWMAs (0-1].
    pub alpha: f64,
    /// Consecutive failures that open the circuit.
    pub failure_streak: u32,
    /// Error rate (EWMA) that opens the circuit...
    pub failure_rate: f64,
    /// ...once at least this many outcomes were seen.
    pub min_samples: u64,
    /// First open period.
    pub open_for: Duration,
    /// Longest open period (it doubles on each re-open).
    pub max_open_for: Duration,
    /// Calls let through at once while half-open.
    pub half_open_probes: u32,
    /// Successful probes that close the circuit.
    pub probes_to_close: u32,
    /// Latency above which a target's weight shrinks proportionally.
    pub slow_latency: Duration,
    /// Reports from other replicas older than this are ignored.
    pub stale_after: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            alpha: 0.2,
            failure_streak: 5,
            failure_rate: 0.5,
            min_samples: 20,
            open_for: Duration::from_secs(10),
            max_open_for: Duration::from_secs(300),
            half_open_probes: 1,
            probes_to_close: 2,
            slow_latency: Duration::from_secs(10),
            stale_after: Duration::from_secs(10),
        }
    }
}

/// A target: credential slug and model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetKey {
    /// Org the credential belongs to.
    pub org: String,
    /// Credential slug.
    pub credential: String,
    /// Upstream model.
    pub model: String,
}

impl TargetKey {
    /// A key.
    pub fn new(
        org: impl Into<String>,
        credential: impl Into<String>,
        model: impl Into<String>,
    ) -> Self {
        Self {
            org: org.into(),
            credential: credential.into(),
            model: model.into(),
        }
    }

    fn field(&self) -> String {
        // Unit separators cannot occur in slugs or model names we accept.
        format!("{}\u{1f}{}\u{1f}{}", self.org, self.credential, self.model)
    }

    fn parse_field(field: &str) -> Option<(Self, &str)> {
        let mut parts = field.split('\u{1f}');
        let key = Self::new(parts.next()?, parts.next()?, parts.next()?);
        Some((key, parts.next()?))
    }
}

/// Circuit state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    /// Calls flow.
    Closed,
    /// Calls are refused until the instant.
    Open {
        /// End of the open period.
        until: Instant,
    },
    /// Probing.
    HalfOpen {
        /// Probes in flight.
        in_flight: u32,
        /// Successful probes so far.
        successes: u32,
    },
}

/// Whether a call may go to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go.
    Allowed,
    /// Go, as a half-open probe (report its outcome).
    Probe,
    /// Skip this target.
    Rejected {
        /// When it may be tried again.
        retry_in: Duration,
    },
}

/// Outcome of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A success, with its latency (time to the full response, or to the first byte for streams).
    Success(Duration),
    /// A failure that counts against the target (5xx, 429, connect error, timeout).
    Failure,
}

#[derive(Debug, Clone, Copy)]
struct Remote {
    error_rate: f64,
    latency_ms: f64,
    samples: u64,
    open_until_wall: Option<i64>,
}

#[derive(Debug, Clone)]
struct State {
    latency_ms: Option<f64>,
    error_rate: f64,
    samples: u64,
    streak: u32,
    circuit: Circuit,
    opened: u32,
    remote: Option<Remote>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            latency_ms: None,
            error_rate: 0.0,
            samples: 0,
            streak: 0,
            circuit: Circuit::Closed,
            opened: 0,
            remote: None,
        }
    }
}

/// What is known about one target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// Latency EWMA in milliseconds (local).
    pub latency_ms: Option<f64>,
    /// Error-rate EWMA (local).
    pub error_rate: f64,
    /// Outcomes seen locally.
    pub samples: u64,
    /// Circuit state.
    pub circuit: Circuit,
    /// Load-balancing multiplier.
    pub multiplier: f64,
}

/// Shared view a replica publishes.
#[derive(Debug, Serialize, Deserialize)]
struct Report {
    err: f64,
    lat: f64,
    n: u64,
    open_until: Option<i64>,
    at: i64,
}

/// Health of every target this process has called.
#[derive(Clone)]
pub struct HealthTable {
    config: HealthConfig,
    clock: Arc<dyn Clock>,
    targets: Arc<Mutex<HashMap<TargetKey, State>>>,
}

impl HealthTable {
    /// A table on the system clock.
    pub fn new(config: HealthConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A table on `clock`.
    pub fn with_clock(config: HealthConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            clock,
            targets: Arc::default(),
        }
    }

    /// Whether a call may go to `key` now. A [`Admission::Probe`] must be followed by
    /// [`HealthTable::record`] (or [`HealthTable::abandon`] if it never ran).
    pub fn admit(&self, key: &TargetKey) -> Admission {
        let now = self.clock.now();
        let wall = self.clock.wall_ms();
        let mut targets = lock(&self.targets);
        let s = targets.entry(key.clone()).or_default();
        match s.circuit {
            Circuit::Closed => {
                if let Some(until) = s.remote.and_then(|r| r.open_until_wall)
                    && until > wall
                {
                    return Admission::Rejected {
                        retry_in: Duration::from_millis(u64::try_from(until - wall).unwrap_or(0)),
                    };
                }
                Admission::Allowed
            }
            Circuit::Open { until } if until > now => Admission::Rejected {
                retry_in: until - now,
            },
            Circuit::Open { .. } => {
                s.circuit = Circuit::HalfOpen {
                    in_flight: 1,
                    successes: 0,
                };
                Admission::Probe
            }
            Circuit::HalfOpen {
                in_flight,
                successes,
            } => {
                if in_flight < self.config.half_open_probes {
                    s.circuit = Circuit::HalfOpen {
                        in_flight: in_flight + 1,
                        successes,
                    };
                    Admission::Probe
                } else {
                    Admission::Rejected {
                        retry_in: Duration::ZERO,
                    }
                }
            }
        }
    }

    /// A probe that was admitted but never sent (e.g. the request was cancelled first).
    pub fn abandon(&self, key: &TargetKey) {
        let mut targets = lock(&self.targets);
        if let Some(s) = targets.get_mut(key)
            && let Circuit::HalfOpen {
                in_flight,
                successes,
            } = s.circuit
        {
            s.circuit = Circuit::HalfOpen {
                in_flight: in_flight.saturating_sub(1),
                successes,
            };
        }
    }

    /// Records a call's outcome.
    pub fn record(&self, key: &TargetKey, outcome: Outcome) {
        let now = self.clock.now();
        let cfg = self.config;
        let mut targets = lock(&self.targets);
        let s = targets.entry(key.clone()).or_default();
        let failed = outcome == Outcome::Failure;
        s.samples += 1;
        s.error_rate += cfg.alpha * (f64::from(u8::from(failed)) - s.error_rate);
        if let Outcome::Success(latency) = outcome {
            let ms = latency.as_secs_f64() * 1000.0;
            s.latency_ms = Some(s.latency_ms.map_or(ms, |l| l + cfg.alpha * (ms - l)));
            s.streak = 0;
        } else {
            s.streak += 1;
        }
        let open = |s: &mut State| {
            let factor = 2u32.saturating_pow(s.opened.min(16));
            let period = cfg.open_for.saturating_mul(factor).min(cfg.max_open_for);
            s.circuit = Circuit::Open {
                until: now + period,
            };
            s.opened += 1;
        };
        match s.circuit {
            Circuit::Closed => {
                let by_rate = s.samples >= cfg.min_samples && s.error_rate >= cfg.failure_rate;
                if failed && (s.streak >= cfg.failure_streak || by_rate) {
                    open(s);
                }
            }
            Circuit::HalfOpen {
                in_flight,
                successes,
            } => {
                if failed {
                    open(s);
                } else if successes + 1 >= cfg.probes_to_close {
                    s.circuit = Circuit::Closed;
                    s.opened = 0;
                    s.streak = 0;
                    // Start the closed period with a clean slate: old errors opened it already.
                    s.error_rate = 0.0;
                    s.samples = 0;
                } else {
                    s.circuit = Circuit::HalfOpen {
                        in_flight: in_flight.saturating_sub(1),
                        successes: successes + 1,
                    };
                }
            }
            // A late outcome of a call sent before the circuit opened: the EWMAs take it, the
            // circuit stays as it is.
            Circuit::Open { .. } => {}
        }
    }

    /// Load-balancing weight multiplier in [0, 1]: 0 while open (here or, fresh, on another
    /// replica), small while half-open, else shrinking with the error rate and with latency
    /// above `slow_latency`. Never 0 for a closed circuit, so a recovering target still gets
    /// some traffic.
    pub fn multiplier(&self, key: &TargetKey) -> f64 {
        let now = self.clock.now();
        let wall = self.clock.wall_ms();
        let targets = lock(&self.targets);
        targets
            .get(key)
            .map_or(1.0, |s| self.multiplier_of(s, now, wall))
    }

    fn multiplier_of(&self, s: &State, now: Instant, wall: i64) -> f64 {
        match s.circuit {
            Circuit::Open { until } if until > now => return 0.0,
            Circuit::Open { .. } | Circuit::HalfOpen { .. } => return 0.1,
            Circuit::Closed => {}
        }
        if s.remote
            .and_then(|r| r.open_until_wall)
            .is_some_and(|until| until > wall)
        {
            return 0.0;
        }
        let (err, lat) = self.blended(s);
        let slow = self.config.slow_latency.as_secs_f64() * 1000.0;
        let latency_factor = match lat {
            Some(l) if l > slow && l > 0.0 => slow / l,
            _ => 1.0,
        };
        ((1.0 - err).powi(2) * latency_factor).clamp(0.05, 1.0)
    }

    /// Local and remote error rate and latency, blended by sample count.
    fn blended(&self, s: &State) -> (f64, Option<f64>) {
        let Some(r) = s.remote.filter(|r| r.samples > 0) else {
            return (s.error_rate, s.latency_ms);
        };
        #[allow(
            clippy::cast_precision_loss,
            reason = "sample counts are far below 2^52"
        )]
        let (ln, rn) = (s.samples as f64, r.samples as f64);
        let err = (s.error_rate * ln + r.error_rate * rn) / (ln + rn);
        let lat = match s.latency_ms {
            Some(l) => Some((l * ln + r.latency_ms * rn) / (ln + rn)),
            None => Some(r.latency_ms),
        };
        (err, lat)
    }

    /// What is known about `key`.
    pub fn snapshot(&self, key: &TargetKey) -> Option<Snapshot> {
        let now = self.clock.now();
        let wall = self.clock.wall_ms();
        let targets = lock(&self.targets);
        targets.get(key).map(|s| Snapshot {
            latency_ms: s.latency_ms,
            error_rate: s.error_rate,
            samples: s.samples,
            circuit: s.circuit,
            multiplier: self.multiplier_of(s, now, wall),
        })
    }

    fn redis_key(prefix: &str) -> String {
        format!("{prefix}health")
    }

    /// Writes this replica's view of every target to Redis (one hash field per target and
    /// replica). A no-op on in-process state.
    pub async fn publish(&self, kv: &Kv, replica: &str) -> Result<(), StoreError> {
        let Some((mut conn, prefix)) = kv.redis_parts() else {
            return Ok(());
        };
        let now = self.clock.now();
        let wall = self.clock.wall_ms();
        let fields: Vec<(String, String)> = {
            let targets = lock(&self.targets);
            targets
                .iter()
                .filter(|(_, s)| s.samples > 0 || !matches!(s.circuit, Circuit::Closed))
                .map(|(k, s)| {
                    let open_until = match s.circuit {
                        Circuit::Open { until } if until > now => Some(
                            wall + i64::try_from((until - now).as_millis()).unwrap_or(i64::MAX),
                        ),
                        _ => None,
                    };
                    let report = Report {
                        err: s.error_rate,
                        lat: s.latency_ms.unwrap_or(0.0),
                        n: s.samples,
                        open_until,
                        at: wall,
                    };
                    (
                        format!("{}\u{1f}{replica}", k.field()),
                        serde_json::to_string(&report).unwrap_or_default(),
                    )
                })
                .collect()
        };
        if fields.is_empty() {
            return Ok(());
        }
        let key = Self::redis_key(prefix);
        let ttl = u64::try_from(self.config.stale_after.as_millis().saturating_mul(6))
            .unwrap_or(u64::MAX)
            .max(1);
        redis::pipe()
            .atomic()
            .hset_multiple(&key, &fields)
            .ignore()
            .pexpire(&key, i64::try_from(ttl).unwrap_or(i64::MAX))
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Reads the other replicas' fresh views from Redis into this table. A no-op on in-process
    /// state.
    pub async fn merge(&self, kv: &Kv, replica: &str) -> Result<(), StoreError> {
        let Some((mut conn, prefix)) = kv.redis_parts() else {
            return Ok(());
        };
        let all: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(Self::redis_key(prefix))
            .query_async(&mut conn)
            .await?;
        let wall = self.clock.wall_ms();
        let fresh_after =
            wall - i64::try_from(self.config.stale_after.as_millis()).unwrap_or(i64::MAX);
        let mut merged: HashMap<TargetKey, Remote> = HashMap::new();
        for (field, value) in &all {
            let Some((key, from)) = TargetKey::parse_field(field) else {
                continue;
            };
            let Ok(r) = serde_json::from_str::<Report>(value) else {
                continue;
            };
            if from == replica || r.at < fresh_after {
                continue;
            }
            let m = merged.entry(key).or_insert(Remote {
                error_rate: 0.0,
                latency_ms: 0.0,
                samples: 0,
                open_until_wall: None,
            });
            #[allow(
                clippy::cast_precision_loss,
                reason = "sample counts are far below 2^52"
            )]
            let (mn, rn) = (m.samples as f64, r.n as f64);
            if m.samples + r.n > 0 {
                m.error_rate = (m.error_rate * mn + r.err * rn) / (mn + rn);
                m.latency_ms = (m.latency_ms * mn + r.lat * rn) / (mn + rn);
            }
            m.samples += r.n;
            m.open_until_wall = m.open_until_wall.max(r.open_until);
        }
        let mut targets = lock(&self.targets);
        for s in targets.values_mut() {
            s.remote = None;
        }
        for (key, remote) in merged {
            targets.entry(key).or_default().remote = Some(remote);
        }
        Ok(())
    }
}

/// Caps retries to a share of requests, so that under total upstream failure retries add at
/// most `ratio` extra load (plus a small floor for low traffic). Each request deposits `ratio`
/// of a token; each retry takes one; the floor refills `min_per_sec` tokens per second up to
/// `min_per_sec` (Finagle's retry budget).
#[derive(Clone)]
pub struct RetryBudget {
    ratio: f64,
    min_per_sec: f64,
    cap: f64,
    clock: Arc<dyn Clock>,
    state: Arc<Mutex<(f64, f64, Instant)>>,
}

impl RetryBudget {
    /// A budget of `ratio` (e.g. 0.2) of requests plus `min_per_sec` retries per second.
    pub fn new(ratio: f64, min_per_sec: f64, clock: Arc<dyn Clock>) -> Self {
        let now = clock.now();
        let ratio = ratio.max(0.0);
        let min_per_sec = min_per_sec.max(0.0);
        Self {
            ratio,
            min_per_sec,
            cap: (100.0 * ratio).max(min_per_sec).max(1.0),
            clock,
            // (deposited tokens, floor tokens, last refill)
            state: Arc::new(Mutex::new((0.0, min_per_sec, now))),
        }
    }

    /// A request was made.
    pub fn deposit(&self) {
        let mut s = lock(&self.state);
        s.0 = (s.0 + self.ratio).min(self.cap);
    }

    /// Takes a token for one retry; `false` means do not retry.
    pub fn try_retry(&self) -> bool {
        let now = self.clock.now();
        let mut s = lock(&self.state);
        let elapsed = now.saturating_duration_since(s.2).as_secs_f64();
        s.1 = (s.1 + elapsed * self.min_per_sec).min(self.min_per_sec);
        s.2 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else if s.1 >= 1.0 {
            s.1 -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> (HealthTable, ManualClock) {
        let clock = ManualClock::default();
        let t = HealthTable::with_clock(HealthConfig::default(), Arc::new(clock.clone()));
        (t, clock)
    }

    fn key() -> TargetKey {
        TargetKey::new("org", "openai", "gpt-4o")
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn latency_and_error_rate_are_ewmas() {
        let (t, _) = table();
        t.record(&key(), Outcome::Success(100 * MS));
        assert_eq!(t.snapshot(&key()).map(|s| s.latency_ms), Some(Some(100.0)));
        t.record(&key(), Outcome::Success(200 * MS));
        let s = t.snapshot(&key()).unwrap();
        assert!((s.latency_ms.unwrap() - 120.0).abs() < 1e-9);
        t.record(&key(), Outcome::Failure);
        let s = t.snapshot(&key()).unwrap();
        assert!((s.error_rate - 0.2).abs() < 1e-9);
        assert_eq!(s.samples, 3);
        assert_eq!(s.circuit, Circuit::Closed);
    }

    #[test]
    fn a_failure_streak_opens_then_probes_close_it() {
        let (t, clock) = table();
        for _ in 0..4 {
            t.record(&key(), Outcome::Failure);
            assert_eq!(t.admit(&key()), Admission::Allowed);
        }
        t.record(&key(), Outcome::Failure);
        assert_eq!(
            t.admit(&key()),
            Admission::Rejected {
                retry_in: Duration::from_secs(10)
            }
        );
        assert_eq!(t.multiplier(&key()), 0.0);

        clock.advance(Duration::from_secs(10));
        assert_eq!(t.admit(&key()), Admission::Probe);
        // One probe at a time.
        assert!(matches!(t.admit(&key()), Admission::Rejected { .. }));
        assert!((t.multiplier(&key()) - 0.1).abs() < 1e-9);
        t.record(&key(), Outcome::Success(50 * MS));
        assert_eq!(t.admit(&key()), Admission::Probe);
        t.record(&key(), Outcome::Success(50 * MS));
        assert_eq!(t.snapshot(&key()).unwrap().circuit, Circuit::Closed);
        assert_eq!(t.admit(&key()), Admission::Allowed);
        assert_eq!(t.multiplier(&key()), 1.0);
    }

    #[test]
    fn a_failed_probe_reopens_for_twice_as_long() {
        let (t, clock) = table();
        for _ in 0..5 {
            t.record(&key(), Outcome::Failure);
        }
        clock.advance(Duration::from_secs(10));
        assert_eq!(t.admit(&key()), Admission::Probe);
        t.record(&key(), Outcome::Failure);
        assert_eq!(
            t.admit(&key()),
            Admission::Rejected {
                retry_in: Duration::from_secs(20)
            }
        );
        clock.advance(Duration::from_secs(19));
        assert!(matches!(t.admit(&key()), Admission::Rejected { .. }));
        clock.advance(Duration::from_secs(1));
        assert_eq!(t.admit(&key()), Admission::Probe);
        // An abandoned probe frees its slot.
        t.abandon(&key());
        assert_eq!(t.admit(&key()), Admission::Probe);
    }

    #[test]
    fn a_high_error_rate_opens_without_a_streak() {
        let (t, _) = table();
        // Alternate success and failure: never 5 in a row, but the rate climbs past 50% once
        // two failures follow each success.
        let mut opened_after = None;
        for i in 0..60 {
            let outcome = if i % 3 == 0 {
                Outcome::Success(10 * MS)
            } else {
                Outcome::Failure
            };
            t.record(&key(), outcome);
            if matches!(t.snapshot(&key()).unwrap().circuit, Circuit::Open { .. }) {
                opened_after = Some(i + 1);
                break;
            }
        }
        let n = opened_after.expect("the error rate opens the circuit");
        assert!(n >= 20, "needs min_samples first, opened after {n}");
    }

    #[test]
    fn multiplier_shrinks_with_errors_and_slowness_but_not_to_zero() {
        let (t, _) = table();
        let slow = TargetKey::new("org", "slow", "m");
        t.record(&slow, Outcome::Success(Duration::from_secs(20)));
        assert!((t.multiplier(&slow) - 0.5).abs() < 1e-9);
        let flaky = TargetKey::new("org", "flaky", "m");
        for i in 0..10 {
            t.record(
                &flaky,
                if i % 2 == 0 {
                    Outcome::Failure
                } else {
                    Outcome::Success(MS)
                },
            );
        }
        let m = t.multiplier(&flaky);
        assert!(m > 0.05 && m < 0.6, "{m}");
        assert_eq!(t.multiplier(&TargetKey::new("org", "unknown", "m")), 1.0);
    }

    #[test]
    fn retry_budget_caps_retries_at_the_ratio_under_total_failure() {
        let clock = ManualClock::default();
        let budget = RetryBudget::new(0.2, 5.0, Arc::new(clock.clone()));
        let mut retries = 0;
        for _ in 0..1000 {
            budget.deposit();
            // Every request fails and wants to retry.
            if budget.try_retry() {
                retries += 1;
            }
            clock.advance(Duration::from_millis(1));
        }
        // One second passed: at most 20% of 1000 plus the 5/s floor (and its initial 5).
        assert!(retries <= 200 + 10, "{retries}");
        assert!(retries >= 195, "{retries}");
        // At low traffic the floor still allows a few retries.
        let idle = RetryBudget::new(0.2, 5.0, Arc::new(ManualClock::default()));
        assert!(idle.try_retry());
    }

    #[test]
    fn field_names_round_trip() {
        let k = TargetKey::new("o", "c", "m/n");
        let field = format!("{}\u{1f}replica-1", k.field());
        assert_eq!(TargetKey::parse_field(&field), Some((k, "replica-1")));
    }
}
