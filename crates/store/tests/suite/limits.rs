//! Rate limits and budgets against real Redis (each test its own key prefix) and in-process,
//! with the same semantic checks for both.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use keyway_domain::Usd;
use keyway_store::Kv;
use keyway_store::limits::{
    BudgetDecision, BudgetLevel, DEFAULT_THRESHOLDS, Dimension, LimitError, LimitOptions, Limits,
    Period, RateLevel, Reservation, Scope, ScopeKind, Unavailable,
};
use keyway_testkit::services::TestRedis;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

const CENT: i64 = 10_000_000;

fn usd(nanos: i64) -> Usd {
    Usd::from_nanos(nanos)
}

fn rate(
    kind: ScopeKind,
    id: &str,
    window_ms: u64,
    requests: Option<u64>,
    tokens: Option<u64>,
) -> RateLevel {
    RateLevel {
        scope: Scope::new("org-a", kind, id),
        window: Duration::from_millis(window_ms),
        requests,
        tokens,
    }
}

fn budget(kind: ScopeKind, id: &str, limit: i64) -> BudgetLevel {
    BudgetLevel {
        scope: Scope::new("org-a", kind, id),
        limit: usd(limit),
        period: Period::Monthly,
        thresholds: DEFAULT_THRESHOLDS.to_vec(),
    }
}

async fn redis_kv(redis: &TestRedis) -> Kv {
    Kv::redis(redis.url(), redis.prefix()).await.unwrap()
}

fn reserved(d: BudgetDecision) -> Reservation {
    match d {
        BudgetDecision::Reserved(r) => r,
        BudgetDecision::Exceeded { scope, .. } => panic!("unexpectedly exceeded at {scope}"),
    }
}

// ---- shared semantics ---------------------------------------------------------------------

async fn rate_semantics(limits: &Limits) {
    let key = rate(ScopeKind::Key, "k1", 1000, Some(3), None);
    let key2 = rate(ScopeKind::Key, "k2", 1000, Some(3), None);
    let org = rate(ScopeKind::Org, "org-a", 1000, Some(5), None);

    let mut remaining = Vec::new();
    for _ in 0..3 {
        let d = limits
            .check_rate(&[key.clone(), org.clone()], 0)
            .await
            .unwrap();
        assert!(d.allowed());
        remaining.push(d.requests.unwrap().remaining);
    }
    // The tightest level speaks in the headers: the key's 3 before the org's 5.
    assert_eq!(remaining, [2, 1, 0]);
    let d = limits
        .check_rate(&[key.clone(), org.clone()], 0)
        .await
        .unwrap();
    let denial = d.denied.clone().unwrap();
    assert_eq!(denial.scope.kind, ScopeKind::Key);
    assert_eq!(denial.dimension, Dimension::Requests);
    assert!(
        denial.retry_after > Duration::ZERO && denial.retry_after <= Duration::from_millis(1100)
    );
    assert!(
        d.headers()
            .iter()
            .any(|(h, v)| *h == "x-ratelimit-remaining-requests" && v == "0")
    );
    assert!(d.headers().iter().any(|(h, _)| *h == "retry-after"));

    // The refused request was counted nowhere: the org still has 2 for another key.
    assert!(
        limits
            .check_rate(&[key2.clone(), org.clone()], 0)
            .await
            .unwrap()
            .allowed()
    );
    assert!(
        limits
            .check_rate(&[key2.clone(), org.clone()], 0)
            .await
            .unwrap()
            .allowed()
    );
    let d = limits
        .check_rate(&[key2.clone(), org.clone()], 0)
        .await
        .unwrap();
    assert_eq!(
        d.denied.unwrap().scope.kind,
        ScopeKind::Org,
        "org level full"
    );

    // Tokens: an estimate is counted at admission, corrected afterwards.
    let tpm = rate(ScopeKind::EndUser, "u1", 1000, None, Some(100));
    assert!(
        limits
            .check_rate(std::slice::from_ref(&tpm), 60)
            .await
            .unwrap()
            .allowed()
    );
    let d = limits
        .check_rate(std::slice::from_ref(&tpm), 60)
        .await
        .unwrap();
    assert_eq!(d.denied.unwrap().dimension, Dimension::Tokens);
    limits
        .record_tokens(std::slice::from_ref(&tpm), -50)
        .await
        .unwrap(); // real usage was 10
    let d = limits
        .check_rate(std::slice::from_ref(&tpm), 60)
        .await
        .unwrap();
    assert!(d.allowed());
    assert_eq!(d.tokens.unwrap().remaining, 30);

    // After the window (plus one slot) everything is admitted again.
    tokio::time::sleep(Duration::from_millis(1250)).await;
    let d = limits
        .check_rate(&[key.clone(), org.clone()], 0)
        .await
        .unwrap();
    assert!(d.allowed(), "{d:?}");
    assert_eq!(d.requests.unwrap().remaining, 2);
}

async fn budget_semantics(limits: &Limits) {
    let key = budget(ScopeKind::Key, "k1", 100 * CENT); // $1
    let team = budget(ScopeKind::Team, "t1", 1000 * CENT);
    let levels = [key.clone(), team.clone()];

    let a = reserved(limits.reserve(&levels, usd(30 * CENT)).await.unwrap());
    let b = reserved(limits.reserve(&levels, usd(30 * CENT)).await.unwrap());
    let c = reserved(limits.reserve(&levels, usd(30 * CENT)).await.unwrap());
    match limits.reserve(&levels, usd(30 * CENT)).await.unwrap() {
        BudgetDecision::Exceeded {
            scope,
            spent,
            reserved,
            limit,
            ..
        } => {
            assert_eq!(scope.kind, ScopeKind::Key);
            assert_eq!(
                (spent, reserved, limit),
                (Usd::ZERO, usd(90 * CENT), usd(100 * CENT))
            );
        }
        BudgetDecision::Reserved(_) => panic!("$1.20 held against $1"),
    }
    // All or nothing: the refused reservation held nothing at the team level.
    let team_spend = limits.spend(&team).await.unwrap();
    assert_eq!(team_spend.reserved, usd(90 * CENT));

    // Settling replaces the hold by the real cost; 50% crossed once.
    let crossed = limits.settle(&a, usd(55 * CENT)).await.unwrap();
    assert_eq!(crossed.len(), 1);
    assert_eq!(
        (crossed[0].scope.kind, crossed[0].percent),
        (ScopeKind::Key, 50)
    );
    assert!(
        limits.settle(&a, usd(55 * CENT)).await.unwrap().is_empty(),
        "settling twice"
    );
    let s = limits.spend(&key).await.unwrap();
    assert_eq!((s.spent, s.reserved), (usd(55 * CENT), usd(60 * CENT)));
    assert!(s.resets_at.is_some());

    // Release frees the hold without spending.
    limits.release(&b).await.unwrap();
    let s = limits.spend(&key).await.unwrap();
    assert_eq!((s.spent, s.reserved), (usd(55 * CENT), usd(30 * CENT)));
    let crossed = limits.settle(&c, usd(30 * CENT)).await.unwrap();
    assert_eq!(crossed.iter().map(|c| c.percent).collect::<Vec<_>>(), [80]);
    // 85 spent: a 15-cent request fits exactly, then nothing does.
    let d = reserved(limits.reserve(&levels, usd(15 * CENT)).await.unwrap());
    assert!(matches!(
        limits.reserve(&levels, usd(1)).await.unwrap(),
        BudgetDecision::Exceeded { .. }
    ));
    let crossed = limits.settle(&d, usd(15 * CENT)).await.unwrap();
    assert_eq!(crossed.iter().map(|c| c.percent).collect::<Vec<_>>(), [100]);
    assert_eq!(limits.spend(&key).await.unwrap().spent, usd(100 * CENT));
    assert_eq!(limits.spend(&team).await.unwrap().spent, usd(100 * CENT));
}

async fn expiry_semantics(limits: &Limits) {
    let key = budget(ScopeKind::Key, "crashy", 10 * CENT);
    let _lost = reserved(
        limits
            .reserve(std::slice::from_ref(&key), usd(10 * CENT))
            .await
            .unwrap(),
    );
    assert!(matches!(
        limits
            .reserve(std::slice::from_ref(&key), usd(CENT))
            .await
            .unwrap(),
        BudgetDecision::Exceeded { .. }
    ));
    // The holder crashed and never settles: the hold expires.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(limits.spend(&key).await.unwrap().reserved, Usd::ZERO);
    assert!(matches!(
        limits
            .reserve(std::slice::from_ref(&key), usd(CENT))
            .await
            .unwrap(),
        BudgetDecision::Reserved(_)
    ));
}

fn short_ttl() -> LimitOptions {
    LimitOptions {
        reservation_ttl: Duration::from_millis(300),
        ..LimitOptions::default()
    }
}

#[tokio::test]
async fn rate_limits_in_process() {
    rate_semantics(&Limits::new(&Kv::memory("t:"), LimitOptions::default())).await;
}

#[tokio::test]
async fn rate_limits_on_redis() {
    let redis = TestRedis::create().await.unwrap();
    rate_semantics(&Limits::new(
        &redis_kv(&redis).await,
        LimitOptions::default(),
    ))
    .await;
}

#[tokio::test]
async fn budgets_in_process() {
    let limits = Limits::new(&Kv::memory("t:"), short_ttl());
    budget_semantics(&limits).await;
    expiry_semantics(&limits).await;
}

#[tokio::test]
async fn budgets_on_redis() {
    let redis = TestRedis::create().await.unwrap();
    let limits = Limits::new(&redis_kv(&redis).await, short_ttl());
    budget_semantics(&limits).await;
    expiry_semantics(&limits).await;
}

// ---- concurrency across processes ------------------------------------------------------------

/// 1,000 concurrent $0.01-$0.019 requests against $1, over `processes`; returns (admitted,
/// spent, largest reservation).
async fn budget_race(processes: &[Limits]) -> (usize, i64, i64) {
    let level = budget(ScopeKind::Key, "hot", 100 * CENT);
    let mut tasks = JoinSet::new();
    for i in 0..1000usize {
        let limits = processes[i % processes.len()].clone();
        let level = level.clone();
        let amount = CENT + (i as i64 % 10) * CENT / 10;
        tasks.spawn(async move {
            match limits.reserve(&[level], usd(amount)).await.unwrap() {
                BudgetDecision::Reserved(r) => {
                    tokio::task::yield_now().await;
                    limits.settle(&r, r.amount()).await.unwrap();
                    1
                }
                BudgetDecision::Exceeded { .. } => 0,
            }
        });
    }
    let mut admitted = 0;
    while let Some(r) = tasks.join_next().await {
        admitted += r.unwrap();
    }
    let spent = processes[0].spend(&level).await.unwrap().spent.nanos();
    (admitted, spent, 2 * CENT - CENT / 10)
}

#[tokio::test]
async fn a_dollar_budget_holds_under_1000_concurrent_requests_from_3_processes() {
    let redis = TestRedis::create().await.unwrap();
    for overrun in [false, true] {
        let redis_p = TestRedis::create().await.unwrap();
        let opts = LimitOptions {
            allow_final_overrun: overrun,
            ..LimitOptions::default()
        };
        let mut processes = Vec::new();
        for _ in 0..3 {
            processes.push(Limits::new(&redis_kv(&redis_p).await, opts));
        }
        let (admitted, spent, largest) = budget_race(&processes).await;
        let limit = 100 * CENT;
        eprintln!("budget race (overrun {overrun}): admitted {admitted}, spent {spent} nano-USD");
        assert!(
            spent <= limit + largest,
            "overspent: {spent} vs {limit} (overrun {overrun})"
        );
        if overrun {
            assert!(spent >= limit, "stopped early: {spent}");
        } else {
            assert!(spent <= limit, "strict mode overspent: {spent}");
            assert!(
                spent > limit - largest,
                "left more than one request unspent: {spent}"
            );
        }
        assert!((60..=100).contains(&admitted), "admitted {admitted}");
    }
    drop(redis);
}

#[tokio::test]
async fn in_process_budget_holds_under_1000_concurrent_requests() {
    let limits = Limits::new(&Kv::memory("t:"), LimitOptions::default());
    let (_, spent, largest) = budget_race(&[limits]).await;
    assert!(
        spent <= 100 * CENT && spent > 100 * CENT - largest,
        "{spent}"
    );
}

/// Hammers an RPM-style limit of 100 per `window` from several processes for `run`; returns
/// admission times relative to the start.
async fn rate_race(processes: &[Limits], window: Duration, run: Duration) -> Vec<Duration> {
    let level = rate(
        ScopeKind::Key,
        "busy",
        u64::try_from(window.as_millis()).unwrap(),
        Some(100),
        None,
    );
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..30 {
        let limits = processes[i % processes.len()].clone();
        let level = level.clone();
        tasks.spawn(async move {
            let mut admitted = Vec::new();
            while start.elapsed() < run {
                let d = limits
                    .check_rate(std::slice::from_ref(&level), 0)
                    .await
                    .unwrap();
                if d.allowed() {
                    admitted.push(start.elapsed());
                }
            }
            admitted
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.unwrap());
    }
    all.sort();
    all
}

fn check_rate_race(admitted: &[Duration], window: Duration, windows: u32) {
    let total = admitted.len();
    let per_window: Vec<usize> = (0..windows)
        .map(|w| {
            admitted
                .iter()
                .filter(|t| t.as_millis() / window.as_millis() == u128::from(w))
                .count()
        })
        .collect();
    eprintln!("rate race: {total} admitted, per window from start {per_window:?}");
    let expect = 100 * windows as usize;
    assert!(
        total.abs_diff(expect) <= 5 * windows as usize,
        "admitted {total} over {windows} windows"
    );
    // No rolling window (measured client-side, 50 ms of slack for response-time jitter) ever
    // sees more than 100 + 5.
    for (i, t) in admitted.iter().enumerate() {
        let within = admitted[i..]
            .iter()
            .take_while(|u| **u < *t + window - Duration::from_millis(50))
            .count();
        assert!(
            within <= 105,
            "{within} admitted within one window from {t:?}"
        );
    }
    let first = admitted.iter().filter(|t| **t < window).count();
    assert!(first.abs_diff(100) <= 5, "first window admitted {first}");
}

#[tokio::test]
async fn an_rpm_limit_of_100_admits_100_per_window_across_3_processes() {
    let redis = TestRedis::create().await.unwrap();
    let mut processes = Vec::new();
    for _ in 0..3 {
        processes.push(Limits::new(
            &redis_kv(&redis).await,
            LimitOptions::default(),
        ));
    }
    let window = Duration::from_millis(1000);
    // Batches free up every window + one slot: 3 of them within 3 s.
    let admitted = rate_race(&processes, window, Duration::from_millis(3000)).await;
    check_rate_race(&admitted, window, 3);
}

#[tokio::test]
async fn an_in_process_rpm_limit_admits_100_per_window() {
    let limits = Limits::new(&Kv::memory("t:"), LimitOptions::default());
    let window = Duration::from_millis(1000);
    let admitted = rate_race(&[limits], window, Duration::from_millis(3000)).await;
    check_rate_race(&admitted, window, 3);
}

// ---- Redis unreachable ---------------------------------------------------------------------

/// A TCP proxy to Redis that the test can cut (closing every connection), stall (keeping the
/// connections open but forwarding nothing, like a hung server) and restore on the same port.
struct Proxy {
    addr: SocketAddr,
    stalled: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    break;
                };
                let flag = flag.clone();
                conns.spawn(async move {
                    let Ok(outbound) = TcpStream::connect("127.0.0.1:6379").await else {
                        return;
                    };
                    let (mut ir, mut iw) = inbound.into_split();
                    let (mut or, mut ow) = outbound.into_split();
                    let up = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = ir.read(&mut buf).await.unwrap_or(0);
                            if n == 0 {
                                break;
                            }
                            while flag.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            if ow.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let down = tokio::io::copy(&mut or, &mut iw);
                    tokio::select! {
                        () = up => {}
                        _ = down => {}
                    }
                });
            }
        });
        Self {
            addr,
            stalled,
            task,
        }
    }

    /// Closes the listener and every proxied connection.
    fn cut(&self) {
        self.task.abort();
    }

    /// Stops forwarding without closing anything.
    fn stall(&self, on: bool) {
        self.stalled.store(on, Ordering::SeqCst);
    }

    fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }
}

#[tokio::test]
async fn a_hung_redis_never_stalls_a_request_and_recovers() {
    let redis = TestRedis::create().await.unwrap();
    let proxy = Proxy::start("127.0.0.1:0".parse().unwrap()).await;
    let kv = Kv::redis(&proxy.url(), redis.prefix()).await.unwrap();
    let opts = LimitOptions {
        redis_timeout: Duration::from_millis(150),
        retry_interval: Duration::from_millis(200),
        ..LimitOptions::default()
    };
    let limits = Limits::new(&kv, opts);
    let level = [rate(ScopeKind::Key, "k", 60_000, Some(100), None)];
    assert!(limits.check_rate(&level, 0).await.unwrap().allowed());

    proxy.stall(true);
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let r = limits.check_rate(&level, 0).await;
        assert!(matches!(r, Err(LimitError::Unavailable)), "{r:?}");
        slowest = slowest.max(started.elapsed());
    }
    // One call pays the timeout; the others skip Redis until the retry interval has passed.
    assert!(
        slowest < Duration::from_millis(400),
        "slowest call {slowest:?}"
    );

    proxy.stall(false);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match limits.check_rate(&level, 0).await {
            Ok(d) => {
                assert!(d.allowed() && !d.local);
                break;
            }
            Err(LimitError::Unavailable) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("did not recover: {e}"),
        }
    }
}

#[tokio::test]
async fn redis_unreachable_fails_closed_fast_then_recovers() {
    let redis = TestRedis::create().await.unwrap();
    let proxy = Proxy::start("127.0.0.1:0".parse().unwrap()).await;
    let kv = Kv::redis(&proxy.url(), redis.prefix()).await.unwrap();
    let opts = LimitOptions {
        retry_interval: Duration::from_millis(200),
        ..LimitOptions::default()
    };
    let limits = Limits::new(&kv, opts);
    let level = [rate(ScopeKind::Key, "k", 60_000, Some(100), None)];
    let money = [budget(ScopeKind::Key, "k", 100 * CENT)];
    assert!(limits.check_rate(&level, 0).await.unwrap().allowed());

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..5 {
        let started = Instant::now();
        let r = limits.check_rate(&level, 0).await;
        assert!(matches!(r, Err(LimitError::Unavailable)), "{r:?}");
        assert!(
            started.elapsed() < Duration::from_millis(600),
            "took {:?}",
            started.elapsed()
        );
        let started = Instant::now();
        assert!(matches!(
            limits.reserve(&money, usd(CENT)).await,
            Err(LimitError::Unavailable)
        ));
        assert!(started.elapsed() < Duration::from_millis(600));
    }
    assert!(limits.degraded());

    let _proxy = Proxy::start(proxy.addr).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let decision = loop {
        match limits.check_rate(&level, 0).await {
            Ok(d) => break d,
            Err(LimitError::Unavailable) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("did not recover: {e}"),
        }
    };
    assert!(decision.allowed() && !decision.local);
    // The count kept in Redis before the outage is still there: 2 of 100 used.
    assert_eq!(decision.requests.unwrap().remaining, 98);
    assert!(!limits.degraded());
}

#[tokio::test]
async fn redis_unreachable_uses_a_bounded_local_allowance_and_replays_spend() {
    let redis = TestRedis::create().await.unwrap();
    let proxy = Proxy::start("127.0.0.1:0".parse().unwrap()).await;
    let kv = Kv::redis(&proxy.url(), redis.prefix()).await.unwrap();
    let opts = LimitOptions {
        retry_interval: Duration::from_millis(200),
        on_unavailable: Unavailable::LocalAllowance {
            rate_share: 0.1,
            budget: usd(20 * CENT),
        },
        ..LimitOptions::default()
    };
    let limits = Limits::new(&kv, opts);
    let level = [rate(ScopeKind::Key, "k", 60_000, Some(100), None)];
    let money = [budget(ScopeKind::Key, "k", 100 * CENT)];
    let before = reserved(limits.reserve(&money, usd(10 * CENT)).await.unwrap());
    limits.settle(&before, usd(10 * CENT)).await.unwrap();

    proxy.cut();
    // Rate: a tenth of 100 per process while Redis is away.
    let admitted = AtomicUsize::new(0);
    for _ in 0..20 {
        let d = limits.check_rate(&level, 0).await.unwrap();
        assert!(d.local);
        if d.allowed() {
            admitted.fetch_add(1, Ordering::SeqCst);
        }
    }
    assert_eq!(admitted.load(Ordering::SeqCst), 10);
    // Budget: at most 20 cents of local spend.
    let mut local = Vec::new();
    while let BudgetDecision::Reserved(r) = limits.reserve(&money, usd(5 * CENT)).await.unwrap() {
        assert!(r.is_local());
        local.push(r);
        assert!(local.len() <= 4, "allowance not bounded");
    }
    assert_eq!(local.len(), 4);
    for r in &local {
        limits.settle(r, usd(5 * CENT)).await.unwrap();
    }
    assert_eq!(limits.pending_settlements(), 4);

    let _proxy = Proxy::start(proxy.addr).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = limits.check_rate(&level, 0).await.unwrap();
        if !d.local {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The outage's spend reaches Redis in the background: 10 before + 20 during.
    while limits.pending_settlements() > 0
        || limits.spend(&money[0]).await.unwrap().spent != usd(30 * CENT)
    {
        assert!(
            Instant::now() < deadline,
            "spend not replayed: {} pending",
            limits.pending_settlements()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(limits.spend(&money[0]).await.unwrap().spent, usd(30 * CENT));
}
