//! Runs a [`Plan`] against the upstreams for one client request.
//!
//! Steps run one after another: a step is one attempt ([`StepKind::Single`]), or several legs
//! run together ([`StepKind::Race`]: all at once; [`StepKind::Hedge`]: the next leg starts
//! after the delay, or at once when a leg fails). The first success wins; the other legs are
//! dropped, which closes their upstream connections (the upstream sees the request cancelled),
//! and counted as cancelled ([`super::RoutingStats`], served at `/metrics`).
//! When a step has failed for good, [`Plan::next_after`] picks the next step, or the caller
//! gets the failure.
//!
//! An attempt resolves its target (`<credential>/<model>`), applies `override_params`, checks
//! the key may use that target and that its circuit is not open, then sends. Nothing reaches
//! the client until an attempt succeeded: a whole answer is read completely, a stream until its
//! first chunk, all within the attempt's timeouts (`request_timeout` / `timeouts.total_ms` for
//! the attempt, `timeouts.first_byte_ms` until response headers and, for a stream, its first
//! chunk). So retries and fallbacks only ever happen before the first byte reached the client.
//!
//! A failed attempt is retried per its [`keyway_domain::routing::RetryPolicy`] when the upstream
//! did not process the request (connection failure, timeout, or a listed status such as 429 or
//! 5xx), after a jittered exponential backoff or the upstream's `retry-after(-ms)`, and only
//! while the process-wide retry budget allows. Configured requests record every outcome in the
//! target health table (latency EWMA, error rate, circuit breaker); requests without a config
//! keep the plain single-call behaviour and leave health alone.

use crate::GatewayState;
use crate::chat::{Api, read_body, upstream_failure};
use crate::error::GatewayError;
use crate::governance::Estimate;
use crate::prices::OrgPrices;
use crate::targets::Target;
use crate::upstream::IdleTimeoutBody;
use actix_web::http::StatusCode;
use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::future::LocalBoxFuture;
use futures_util::stream::FuturesUnordered;
use keyway_domain::Usd;
use keyway_domain::routing::{Attempt, Failure, Plan, StepKind, Upstream};
use keyway_providers::{ChatRequest, Format};
use keyway_store::health::{Admission, HealthTable, Outcome, TargetKey};
use keyway_store::virtual_keys::KeyPolicy;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Longest wait for upstream response headers when the config sets no first-byte timeout.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest silence inside an upstream body before the call counts as stalled.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// What the winning attempt produced.
pub enum Answer {
    /// A stream: its first chunk (already read) and the rest of the body.
    Stream {
        /// The first chunk.
        first: Bytes,
        /// The rest.
        body: IdleTimeoutBody,
    },
    /// Whole bodies, one per request (several for a multi-prompt Completions call).
    Whole(Vec<Bytes>),
}

/// The attempt that served the request.
pub struct Served {
    /// Where it went.
    pub target: Target,
    /// Its answer.
    pub answer: Answer,
    /// Retries made across all attempts.
    pub retries: u32,
    /// Index of the plan step that served (0 = the first target).
    pub fallback_index: usize,
}

/// Why a request could not be served, after every retry and fallback.
pub struct Failed {
    /// The last attempt's error.
    pub error: AttemptError,
    /// Retries made across all attempts.
    pub retries: u32,
    /// Index of the plan step that failed last.
    pub fallback_index: usize,
}

/// How one attempt failed.
pub enum AttemptError {
    /// The upstream answered with a non-2xx status.
    Upstream {
        /// Where it went.
        target: Box<Target>,
        /// Its status.
        status: u16,
        /// Its body.
        body: Bytes,
        /// Its `retry-after` header, passed on to the caller.
        retry_after: Option<String>,
        /// Its wait hint (`retry-after-ms` or `retry-after` seconds).
        wait: Option<Duration>,
    },
    /// No usable answer: the upstream could not be reached, timed out or cut the body, or
    /// Keyway refused the attempt (unknown target, key not allowed, circuit open).
    Gateway {
        /// The error answered to the caller if this is the last failure.
        error: GatewayError,
        /// How the fallback levels see it.
        failure: Failure,
        /// Whether retrying the same target could help.
        retryable: bool,
    },
}

impl AttemptError {
    fn failure(&self) -> Failure {
        match self {
            AttemptError::Upstream { status, .. } => Failure::Status(*status),
            AttemptError::Gateway { failure, .. } => *failure,
        }
    }

    fn retryable(&self) -> bool {
        match self {
            AttemptError::Upstream { .. } => true,
            AttemptError::Gateway { retryable, .. } => *retryable,
        }
    }

    fn wait(&self) -> Option<Duration> {
        match self {
            AttemptError::Upstream { wait, .. } => *wait,
            AttemptError::Gateway { .. } => None,
        }
    }

    /// A refusal by Keyway itself: moves on like the status it answers with, never retried.
    fn refused(error: GatewayError) -> Self {
        let failure = Failure::Status(error.status().as_u16());
        AttemptError::Gateway {
            error,
            failure,
            retryable: false,
        }
    }

    /// The upstream was unreachable, too slow or cut the answer.
    fn unreachable(error: GatewayError) -> Self {
        AttemptError::Gateway {
            error,
            failure: Failure::Gateway,
            retryable: true,
        }
    }
}

/// One client request's execution.
pub struct Exec<'a> {
    state: &'a GatewayState,
    policy: &'a KeyPolicy,
    api: Api,
    body: &'a [u8],
    requests: &'a [ChatRequest],
    prices: &'a OrgPrices,
    stream: bool,
    /// Health recording and circuit breaking (configured requests only).
    health: Option<&'a HealthTable>,
    retries: Cell<u32>,
    /// Upstream calls still allowed by the config's `budget.max_attempts`.
    calls_left: Cell<Option<u32>>,
    /// The config's `budget.max_cost_usd`: targets whose worst case costs more are skipped.
    max_cost: Cell<Option<Usd>>,
}

impl<'a> Exec<'a> {
    /// An execution of `requests` (parsed from `body` on `api`) for the key `policy` at the
    /// organization's `prices`; `configured` turns on health recording and circuit breaking.
    pub fn new(
        state: &'a GatewayState,
        policy: &'a KeyPolicy,
        (api, body): (Api, &'a [u8]),
        requests: &'a [ChatRequest],
        prices: &'a OrgPrices,
        configured: bool,
    ) -> Self {
        Self {
            state,
            policy,
            api,
            body,
            stream: requests.first().is_some_and(|r| r.stream),
            requests,
            prices,
            health: configured.then_some(&state.routing.health),
            retries: Cell::new(0),
            calls_left: Cell::new(None),
            max_cost: Cell::new(None),
        }
    }

    /// The first target of `plan` that resolves (for the governance estimate); when none
    /// does, the first one's error.
    pub async fn first_target(&self, plan: &Plan) -> Result<Target, GatewayError> {
        let mut first_error = None;
        for attempt in plan.attempts() {
            match self.resolve(&attempt.upstream).await {
                Ok(target) => return Ok(target),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(no_target_error))
    }

    /// Runs `plan` until an attempt succeeds or the plan gives up.
    pub async fn run(&self, plan: &Plan) -> Result<Served, Failed> {
        self.state.routing.retry_budget.deposit();
        self.calls_left
            .set(plan.budget.and_then(|b| b.max_attempts));
        self.max_cost.set(plan.budget.and_then(|b| b.max_cost()));
        let mut index = 0;
        loop {
            let Some(step) = plan.steps.get(index) else {
                return Err(self.failed(no_target(), index));
            };
            let result = match step.kind {
                StepKind::Single => match step.attempts.first() {
                    Some(attempt) => self.attempt(attempt).await,
                    None => Err(no_target()),
                },
                StepKind::Race => self.legs(&step.attempts, None).await,
                StepKind::Hedge { delay } => self.legs(&step.attempts, Some(delay)).await,
            };
            match result {
                Ok((target, answer)) => {
                    return Ok(Served {
                        target,
                        answer,
                        retries: self.retries.get(),
                        fallback_index: index,
                    });
                }
                Err(error) => match plan.next_after(index, error.failure()) {
                    Some(next) if self.calls_left.get() != Some(0) => {
                        tracing::info!(step = index, next, "routing falls back");
                        self.state.routing.stats.fell_back();
                        index = next;
                    }
                    _ => return Err(self.failed(error, index)),
                },
            }
        }
    }

    fn failed(&self, error: AttemptError, index: usize) -> Failed {
        Failed {
            error,
            retries: self.retries.get(),
            fallback_index: index,
        }
    }

    /// Race (`delay` = `None`: every leg at once) or hedge (the next leg after `delay`, or at
    /// once when a leg fails). The first success wins; dropping the others cancels them.
    async fn legs(
        &self,
        attempts: &[Attempt],
        delay: Option<Duration>,
    ) -> Result<(Target, Answer), AttemptError> {
        let mut pending = attempts.iter();
        let mut running: FuturesUnordered<LocalBoxFuture<'_, _>> = FuturesUnordered::new();
        let start_now = match delay {
            None => attempts.len(),
            Some(_) => 1,
        };
        for attempt in pending.by_ref().take(start_now) {
            running.push(Box::pin(self.attempt(attempt)));
        }
        let mut last = None;
        loop {
            let more = pending.len() > 0;
            let timer = async move {
                match delay {
                    Some(d) if more => tokio::time::sleep(d).await,
                    _ => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                done = running.next() => match done {
                    Some(Ok(won)) => {
                        if !running.is_empty() {
                            tracing::info!(cancelled = running.len(), "leg won; other legs cancelled");
                            self.state.routing.stats.cancelled(running.len());
                        }
                        return Ok(won);
                    }
                    Some(Err(e)) => {
                        last = Some(e);
                        if let Some(next) = pending.next() {
                            running.push(Box::pin(self.attempt(next)));
                        } else if running.is_empty() {
                            break;
                        }
                    }
                    None => break,
                },
                () = timer => {
                    if let Some(next) = pending.next() {
                        running.push(Box::pin(self.attempt(next)));
                    }
                }
            }
        }
        Err(last.unwrap_or_else(no_target))
    }

    /// One attempt with its retries.
    async fn attempt(&self, attempt: &Attempt) -> Result<(Target, Answer), AttemptError> {
        let target = self
            .resolve(&attempt.upstream)
            .await
            .map_err(AttemptError::refused)?;
        let requests = self
            .requests_for(attempt, &target)
            .map_err(AttemptError::refused)?;
        self.check_cost(&target, &requests)?;
        let key = TargetKey::new(
            self.policy.org_id.to_string(),
            target.slug(),
            target.model.as_str(),
        );
        let mut retries_done = 0;
        let mut waited = Duration::ZERO;
        loop {
            let error = match self.call(attempt, &target, &requests, &key).await {
                Ok(answer) => return Ok((target, answer)),
                Err(e) => e,
            };
            let retry = &attempt.retry;
            if !error.retryable() || !retry.should_retry(error.failure(), retries_done) {
                return Err(error);
            }
            let Some(wait) = retry.delay(retries_done, error.wait(), waited, rand::random()) else {
                return Err(error);
            };
            if self.calls_left.get() == Some(0) || !self.state.routing.retry_budget.try_retry() {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
            waited += wait;
            retries_done += 1;
            self.retries.set(self.retries.get() + 1);
            self.state.routing.stats.retried();
            tracing::info!(target = %target.slug(), model = %target.model, retries_done, "retrying upstream");
        }
    }

    /// One upstream call, admitted by the circuit breaker and recorded in health.
    async fn call(
        &self,
        attempt: &Attempt,
        target: &Target,
        requests: &[ChatRequest],
        key: &TargetKey,
    ) -> Result<Answer, AttemptError> {
        if let Some(left) = self.calls_left.get() {
            if left == 0 {
                return Err(AttemptError::refused(GatewayError::too_many_requests(
                    "routing_budget_exceeded",
                    "The routing config's `budget.max_attempts` is used up.",
                )));
            }
            self.calls_left.set(Some(left - 1));
        }
        let mut probe = match self.health.map(|h| (h, h.admit(key))) {
            None => None,
            Some((_, Admission::Rejected { retry_in })) => {
                self.state.routing.stats.rejected();
                return Err(AttemptError::Gateway {
                    error: circuit_open(target, retry_in),
                    failure: Failure::Gateway,
                    retryable: false,
                });
            }
            Some((health, admission)) => Some(HealthGuard {
                health,
                key,
                probe: admission == Admission::Probe,
                done: false,
            }),
        };
        let started = Instant::now();
        let result = self.send_all(attempt, target, requests).await;
        if let Some(guard) = &mut probe {
            guard.record(match &result {
                Ok(_) => Outcome::Success(started.elapsed()),
                Err(e) if counts_against_target(e) => Outcome::Failure,
                Err(_) => Outcome::Success(started.elapsed()),
            });
        }
        result
    }

    /// Sends every request to `target` and reads what the client must not see before the
    /// attempt is known to succeed, all within the attempt's total timeout.
    async fn send_all(
        &self,
        attempt: &Attempt,
        target: &Target,
        requests: &[ChatRequest],
    ) -> Result<Answer, AttemptError> {
        let header_timeout = attempt
            .first_byte_timeout
            .into_iter()
            .chain(attempt.total_timeout)
            .min()
            .unwrap_or(HEADER_TIMEOUT);
        let started = Instant::now();
        let work = async {
            let sent = futures_util::future::join_all(
                requests
                    .iter()
                    .map(|r| send(self.state, target, r, header_timeout)),
            )
            .await;
            let mut responses = Vec::with_capacity(sent.len());
            for response in sent {
                let response = response.map_err(AttemptError::unreachable)?;
                if !response.status().is_success() {
                    return Err(upstream_error(target, response).await);
                }
                responses.push(response);
            }
            if self.stream {
                let response = responses.pop().ok_or_else(no_target)?;
                let mut body = IdleTimeoutBody::new(response, IDLE_TIMEOUT);
                // The first-byte timeout covers the stream's first chunk, not only its headers.
                let first = match attempt.first_byte_timeout {
                    Some(limit) => {
                        let left = limit.saturating_sub(started.elapsed());
                        tokio::time::timeout(left, body.next())
                            .await
                            .map_err(|_| AttemptError::unreachable(timed_out(limit)))?
                    }
                    None => body.next().await,
                };
                let first = match first {
                    Some(Ok(chunk)) => chunk,
                    Some(Err(e)) => return Err(AttemptError::unreachable(upstream_failure(&e))),
                    None => Bytes::new(),
                };
                return Ok(Answer::Stream { first, body });
            }
            let mut bodies = Vec::with_capacity(responses.len());
            for response in responses {
                bodies.push(
                    read_body(response)
                        .await
                        .map_err(AttemptError::unreachable)?,
                );
            }
            Ok(Answer::Whole(bodies))
        };
        match attempt.total_timeout {
            Some(limit) => tokio::time::timeout(limit, work)
                .await
                .unwrap_or_else(|_| Err(AttemptError::unreachable(timed_out(limit)))),
            None => work.await,
        }
    }

    /// Refuses a target whose worst-case cost (prompt estimate plus `max_tokens`) is over the
    /// config's `budget.max_cost_usd`; the plan moves on to a cheaper one.
    fn check_cost(&self, target: &Target, requests: &[ChatRequest]) -> Result<(), AttemptError> {
        let Some(cap) = self.max_cost.get() else {
            return Ok(());
        };
        let worst = Estimate::chat(target, self.prices, requests, self.body.len()).max_cost;
        if worst <= cap {
            return Ok(());
        }
        Err(AttemptError::Gateway {
            error: GatewayError::forbidden(
                "request_budget_exceeded",
                format!(
                    "`{}/{}` may cost up to ${worst}, over the config's budget of ${cap} per request.",
                    target.slug(),
                    target.model
                ),
            ),
            failure: Failure::Gateway,
            retryable: false,
        })
    }

    /// The target an upstream names: its credential and model, or the request's own model.
    async fn resolve(&self, upstream: &Upstream) -> Result<Target, GatewayError> {
        let requested = self.requests.first().map_or("", |r| r.model.as_str());
        let name = model_name(upstream, requested);
        let target = self
            .state
            .targets
            .resolve(self.policy.org_id, &name)
            .await?;
        if !self.policy.allows_provider(target.slug()) {
            return Err(crate::chat::provider_not_allowed(&target));
        }
        let routed = upstream.credential.is_some() || upstream.model.is_some();
        let full = format!("{}/{}", target.slug(), target.model);
        if routed && !self.policy.allows_model(&full) {
            return Err(GatewayError::forbidden(
                "model_not_allowed",
                format!("This key may not use model `{full}`."),
            ));
        }
        Ok(target)
    }

    /// The requests as this attempt sends them: `override_params` applied, the target's model.
    fn requests_for(
        &self,
        attempt: &Attempt,
        target: &Target,
    ) -> Result<Vec<ChatRequest>, GatewayError> {
        let overrides: Vec<_> = attempt
            .override_params
            .iter()
            .filter(|(k, _)| k.as_str() != "model")
            .collect();
        let mut requests = if overrides.is_empty() {
            self.requests.to_vec()
        } else {
            let mut body: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(self.body).map_err(|e| {
                    GatewayError::bad_request(format!("The body is not a JSON object: {e}"), None)
                })?;
            for (k, v) in overrides {
                body.insert(k.clone(), v.clone());
            }
            let bytes = serde_json::to_vec(&body).map_err(|_| GatewayError::internal())?;
            let mut reparsed = self.api.reparse(&bytes)?;
            // The conversation stays the one the gateway holds (input guardrails may have
            // redacted it), unless the config overrides it.
            if !attempt
                .override_params
                .contains_key(self.api.messages_param())
            {
                for (request, held) in reparsed.iter_mut().zip(self.requests) {
                    request.messages.clone_from(&held.messages);
                }
            }
            reparsed
        };
        for request in &mut requests {
            request.model.clone_from(&target.model);
        }
        Ok(requests)
    }
}

/// A call admitted by the health table; a half-open probe that never reports (its leg was
/// cancelled) is handed back so the breaker can probe again.
struct HealthGuard<'a> {
    health: &'a HealthTable,
    key: &'a TargetKey,
    probe: bool,
    done: bool,
}

impl HealthGuard<'_> {
    fn record(&mut self, outcome: Outcome) {
        self.done = true;
        self.health.record(self.key, outcome);
    }
}

impl Drop for HealthGuard<'_> {
    fn drop(&mut self) {
        if self.probe && !self.done {
            self.health.abandon(self.key);
        }
    }
}

/// The model name to resolve for `upstream` when the caller asked for `requested`.
fn model_name(upstream: &Upstream, requested: &str) -> String {
    let requested_model = requested.split_once('/').map_or(requested, |(_, m)| m);
    match (&upstream.credential, &upstream.model) {
        (Some(c), Some(m)) => format!("{c}/{m}"),
        (Some(c), None) => format!("{c}/{requested_model}"),
        (None, Some(m)) => m.clone(),
        (None, None) => requested.to_owned(),
    }
}

/// Whether a failure is the target's fault (and so counts towards its circuit breaker).
fn counts_against_target(error: &AttemptError) -> bool {
    match error {
        AttemptError::Upstream { status, .. } => *status == 429 || *status >= 500,
        AttemptError::Gateway { failure, .. } => *failure == Failure::Gateway,
    }
}

/// Sends `request` to `target` in its own format, waiting at most `header_timeout` for headers.
async fn send(
    state: &GatewayState,
    target: &Target,
    request: &ChatRequest,
    header_timeout: Duration,
) -> Result<reqwest::Response, GatewayError> {
    let body = match target.format() {
        Format::OpenAi => keyway_providers::openai::build_request(request, target.dialect()),
        Format::Anthropic => keyway_providers::anthropic::build_request(request),
        Format::Gemini => keyway_providers::gemini::build_request(request),
        Format::Bedrock => keyway_providers::bedrock::build_request(request),
        Format::Cohere => keyway_providers::cohere::build_request(request),
    }
    .map_err(|e| GatewayError::translate(&e))?;
    let url = target.chat_url(request.stream);
    let builder = target
        .authorize(
            state.upstream.request(reqwest::Method::POST, url.clone()),
            &url,
            &body,
        )
        .header("content-type", "application/json")
        .body(body);
    state
        .upstream
        .send(builder, header_timeout)
        .await
        .map_err(|e| upstream_failure(&e))
}

/// A non-2xx upstream answer, read whole.
async fn upstream_error(target: &Target, response: reqwest::Response) -> AttemptError {
    let status = response.status().as_u16();
    let headers = response.headers();
    let retry_after = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let wait = retry_after_wait(
        headers.get("retry-after-ms").and_then(|v| v.to_str().ok()),
        retry_after.as_deref(),
    );
    let body = read_body(response).await.unwrap_or_default();
    AttemptError::Upstream {
        target: Box::new(target.clone()),
        status,
        body,
        retry_after,
        wait,
    }
}

/// The wait an upstream asks for: `retry-after-ms` (milliseconds), else `retry-after` seconds.
fn retry_after_wait(ms: Option<&str>, secs: Option<&str>) -> Option<Duration> {
    let parse = |v: Option<&str>| {
        v.and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    parse(ms)
        .map(|n| Duration::from_secs_f64(n / 1000.0))
        .or_else(|| parse(secs).map(Duration::from_secs_f64))
}

fn timed_out(limit: Duration) -> GatewayError {
    GatewayError::upstream(
        StatusCode::GATEWAY_TIMEOUT,
        "upstream_timeout",
        format!(
            "The provider did not answer within {} ms.",
            limit.as_millis()
        ),
    )
}

fn circuit_open(target: &Target, retry_in: Duration) -> GatewayError {
    GatewayError::upstream(
        StatusCode::SERVICE_UNAVAILABLE,
        "target_unavailable",
        format!(
            "`{}/{}` is failing and paused for {} ms (circuit open).",
            target.slug(),
            target.model,
            retry_in.as_millis()
        ),
    )
}

fn no_target_error() -> GatewayError {
    GatewayError::bad_request(
        "The routing config selects no target for this request.",
        None,
    )
}

fn no_target() -> AttemptError {
    AttemptError::refused(no_target_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_follow_the_upstream() {
        let up = |c: Option<&str>, m: Option<&str>| Upstream {
            credential: c.map(str::to_owned),
            model: m.map(str::to_owned),
        };
        assert_eq!(model_name(&up(Some("a"), Some("m")), "x/y"), "a/m");
        assert_eq!(model_name(&up(Some("a"), None), "x/y"), "a/y");
        assert_eq!(model_name(&up(Some("a"), None), "gpt-4o"), "a/gpt-4o");
        assert_eq!(model_name(&up(None, Some("b/m")), "x/y"), "b/m");
        assert_eq!(model_name(&up(None, None), "x/y"), "x/y");
    }

    #[test]
    fn retry_after_prefers_milliseconds() {
        assert_eq!(
            retry_after_wait(Some("1500"), Some("7")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after_wait(None, Some("2")),
            Some(Duration::from_secs(2))
        );
        assert_eq!(retry_after_wait(None, Some("Wed, 21 Oct 2015")), None);
        assert_eq!(retry_after_wait(Some("-1"), None), None);
    }
}
