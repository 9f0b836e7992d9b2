//! `keyway-bench`: the load generator behind `scripts/bench.sh`.
//!
//! It drives the same chat request straight at the mock provider and through the gateway (with
//! virtual-key auth and event emission on), and prints one table side by side: latency
//! percentiles at concurrency 1, throughput at fixed in-flight counts, time to first token on
//! 64-chunk streams, and the gateway's resident memory idle and with many requests in flight.
//! It runs on one thread so that it leaves the other core to the servers it measures.

mod client;
mod report;

use anyhow::{Context, Result, bail};
use clap::Parser;
use client::{Conn, Request};
use report::{Row, Table};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CHAT_PATH: &str = "/v1/chat/completions";
/// 128 characters, so that each of the 64 stream chunks carries two of them.
const STREAM_PROMPT: &str = "hello world, this is the keyway benchmark streaming sixty-four chunks of echoed text back to the client through the gateway ok!";

#[derive(Debug, Parser)]
#[command(about = "Benchmarks the Keyway gateway against direct calls to the mock provider")]
struct Args {
    /// The mock provider's base URL (`http://HOST:PORT`, a trailing `/v1` is ignored).
    #[arg(long)]
    mock: String,
    /// The gateway's base URL (`http://HOST:PORT`, a trailing `/v1` is ignored).
    #[arg(long)]
    gateway: String,
    /// A virtual key of the org that owns the `mock` provider credential.
    #[arg(long, env = "KEYWAY_BENCH_KEY", hide_env_values = true)]
    key: String,
    /// The provider slug the gateway knows the mock by.
    #[arg(long, default_value = "mock")]
    provider_slug: String,
    /// A provider slug the gateway knows a second mock by, served over HTTPS: the in-flight
    /// memory is then also measured with the gateway reaching the mock as it reaches hosted
    /// providers, HTTP/2 over TLS (one connection for all requests instead of one each).
    #[arg(long)]
    tls_provider_slug: Option<String>,
    /// Process whose VmRSS is reported (the one serving the gateway).
    #[arg(long)]
    gateway_pid: u32,
    /// Sequential requests per side for the latency percentiles.
    #[arg(long, default_value_t = 5000)]
    samples: usize,
    /// Sequential requests per side before any measurement.
    #[arg(long, default_value_t = 1000)]
    warmup: usize,
    /// Seconds per throughput run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Sequential streams per side for the time to first token.
    #[arg(long, default_value_t = 500)]
    streams: usize,
    /// Requests held open at once (each waits 2 s at the mock) for the loaded RSS figure.
    #[arg(long, default_value_t = 1000)]
    in_flight: usize,
    /// Measure the latency percentiles only (for a second pass with every process pinned to
    /// one CPU).
    #[arg(long)]
    latency_only: bool,
}

/// One scenario's request, straight to the mock and through the gateway.
struct Pair {
    direct: Request,
    gateway: Request,
}

impl Pair {
    fn chat(args: &Args, mock: SocketAddr, gateway: SocketAddr, model: &str, stream: bool) -> Self {
        let routed = format!("{}/{model}", args.provider_slug);
        Self {
            direct: Request::post_json(mock, CHAT_PATH, "sk-bench", &chat_body(model, stream)),
            gateway: Request::post_json(gateway, CHAT_PATH, &args.key, &chat_body(&routed, stream)),
        }
    }
}

fn chat_body(model: &str, stream: bool) -> String {
    let content = if stream { STREAM_PROMPT } else { "hello" };
    format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"{content}"}}],"stream":{stream}}}"#
    )
}

fn main() -> Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let mock = socket_addr(&args.mock)?;
    let gateway = socket_addr(&args.gateway)?;
    let plain = Pair::chat(&args, mock, gateway, "echo", false);
    let stream = Pair::chat(&args, mock, gateway, "echo+chunks-64", true);
    let slow = Pair::chat(&args, mock, gateway, "echo+delay-2000", false);

    let idle_rss = rss_bytes(args.gateway_pid)?;
    let mut table = Table::default();
    let mut notes = Vec::new();

    eprintln!("warm-up: {} requests per side", args.warmup);
    sequential(&plain.direct, args.warmup, false).await?;
    sequential(&plain.gateway, args.warmup, false).await?;

    eprintln!("latency: {} sequential requests per side", args.samples);
    let direct = Percentiles::of(sequential(&plain.direct, args.samples, false).await?);
    let routed = Percentiles::of(sequential(&plain.gateway, args.samples, false).await?);
    for (label, pick, target) in [
        ("latency p50, 1 in flight", 0.5, Some(100.0)),
        ("latency p99, 1 in flight", 0.99, Some(500.0)),
        ("latency p99.9, 1 in flight", 0.999, None),
    ] {
        table.push(Row::latency(
            label,
            direct.at(pick),
            routed.at(pick),
            target,
        ));
    }
    if args.latency_only {
        table.print(&notes);
        return Ok(());
    }

    for in_flight in [32, 256] {
        eprintln!(
            "throughput: {in_flight} in flight for {} s per side",
            args.seconds
        );
        let seconds = Duration::from_secs(args.seconds);
        let direct = throughput(&plain.direct, in_flight, seconds).await?;
        let routed = throughput(&plain.gateway, in_flight, seconds).await?;
        for (side, run) in [("direct", &direct), ("gateway", &routed)] {
            if run.failed > 0 {
                notes.push(format!(
                    "{in_flight} in flight, {side}: {} of {} requests failed",
                    run.failed,
                    run.ok + run.failed
                ));
            }
        }
        table.push(Row::throughput(
            &format!("throughput, {in_flight} in flight"),
            direct.per_second(),
            routed.per_second(),
            5000.0,
        ));
    }

    eprintln!(
        "streams: {} sequential 64-chunk streams per side",
        args.streams
    );
    let warm = (args.streams / 10).max(1);
    sequential(&stream.direct, warm, true).await?;
    sequential(&stream.gateway, warm, true).await?;
    let direct = Percentiles::of(sequential(&stream.direct, args.streams, true).await?);
    let routed = Percentiles::of(sequential(&stream.gateway, args.streams, true).await?);
    table.push(Row::latency(
        "TTFT median, 64-chunk stream",
        direct.at(0.5),
        routed.at(0.5),
        None,
    ));

    let settled_rss = rss_bytes(args.gateway_pid)?;
    table.push(Row::memory("gateway RSS, idle at start", idle_rss, None));
    table.push(Row::memory(
        "gateway RSS, idle after load",
        settled_rss,
        None,
    ));
    // HTTP/2 first: the allocator keeps what a phase freed, so the later phase's peak includes
    // the earlier one's high-water mark, and HTTP/1.1 is the higher of the two.
    if let Some(slug) = &args.tls_provider_slug {
        eprintln!(
            "memory: {} requests in flight, upstream HTTP/2 over TLS",
            args.in_flight
        );
        let body = chat_body(&format!("{slug}/echo+delay-2000"), false);
        let slow_tls = Request::post_json(gateway, CHAT_PATH, &args.key, &body);
        // One request first: until a connection has negotiated HTTP/2, concurrent requests
        // would each open their own.
        let warm = chat_body(&format!("{slug}/echo"), false);
        sequential(
            &Request::post_json(gateway, CHAT_PATH, &args.key, &warm),
            1,
            false,
        )
        .await?;
        held_rss(&slow_tls, &args, "HTTP/2 (TLS)", &mut table, &mut notes).await?;
    }
    eprintln!(
        "memory: {} requests in flight, upstream HTTP/1.1",
        args.in_flight
    );
    held_rss(&slow.gateway, &args, "HTTP/1.1", &mut table, &mut notes).await?;

    table.print(&notes);
    Ok(())
}

/// Holds `args.in_flight` slow requests open through the gateway and adds the peak RSS row
/// (target < 100 MB) and a note, both naming the upstream protocol.
async fn held_rss(
    req: &Request,
    args: &Args,
    upstream: &str,
    table: &mut Table,
    notes: &mut Vec<String>,
) -> Result<()> {
    let held = hold_open(req, args.in_flight, args.gateway_pid).await?;
    notes.push(held.describe(args.in_flight, &format!("upstream {upstream}")));
    table.push(Row::memory(
        &format!(
            "gateway RSS, {} in flight, upstream {upstream}",
            args.in_flight
        ),
        held.peak_rss,
        Some(100 * 1_000_000),
    ));
    Ok(())
}

/// `http://127.0.0.1:8080/v1` -> `127.0.0.1:8080`.
fn socket_addr(base_url: &str) -> Result<SocketAddr> {
    let rest = base_url
        .strip_prefix("http://")
        .with_context(|| format!("{base_url}: only http:// base URLs are benchmarked"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .parse()
        .with_context(|| format!("{base_url}: expected http://IP:PORT"))
}

/// Sends `count` requests one after another on one connection; returns each one's latency
/// (time to first token when `ttft`). Any answer other than 200 aborts the bench.
async fn sequential(req: &Request, count: usize, ttft: bool) -> Result<Vec<Duration>> {
    let mut conn = Conn::connect(req.addr()).await?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let exchange = conn.exchange(req, ttft).await?;
        if exchange.status != 200 {
            bail!(
                "{} answered {} during a sequential run",
                req.addr(),
                exchange.status
            );
        }
        out.push(if ttft {
            exchange
                .first_token
                .with_context(|| format!("{}: a stream carried no text", req.addr()))?
        } else {
            exchange.total
        });
    }
    Ok(out)
}

/// Exact percentiles over all samples (nearest rank).
struct Percentiles(Vec<Duration>);

impl Percentiles {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    fn at(&self, quantile: f64) -> Duration {
        let rank = (quantile * self.0.len() as f64).ceil() as usize;
        self.0
            .get(rank.saturating_sub(1).min(self.0.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    }
}

/// Outcome of a fixed-concurrency run.
struct Load {
    ok: u64,
    failed: u64,
    elapsed: Duration,
}

impl Load {
    fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// Keeps exactly `in_flight` requests outstanding (one per connection, each sent as soon as the
/// previous answered) until `duration` has passed.
async fn throughput(req: &Request, in_flight: usize, duration: Duration) -> Result<Load> {
    let mut conns = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        conns.push(Conn::connect(req.addr()).await?);
    }
    let req = Arc::new(req.clone());
    let start = Instant::now();
    let deadline = start + duration;
    let workers: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let req = Arc::clone(&req);
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u64, 0u64);
                while Instant::now() < deadline {
                    match conn.exchange(&req, false).await {
                        Ok(e) if e.status == 200 => ok += 1,
                        _ => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let mut load = Load {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
    };
    for worker in workers {
        let (ok, failed) = worker.await?;
        load.ok += ok;
        load.failed += failed;
    }
    load.elapsed = start.elapsed();
    Ok(load)
}

/// What happened while many slow requests were open at once.
struct Held {
    peak_rss: u64,
    samples_all_open: usize,
    ok: usize,
    elapsed: Duration,
}

impl Held {
    fn describe(&self, in_flight: usize, upstream: &str) -> String {
        format!(
            "{in_flight} in flight ({upstream}): {} answered 200, all done {:.2} s after the \
             first connect; RSS is the peak of {} samples taken while all {in_flight} were open",
            self.ok,
            self.elapsed.as_secs_f64(),
            self.samples_all_open
        )
    }
}

/// Opens `count` connections, sends one slow request on each, and samples the gateway's RSS
/// every 50 ms while every request is sent and none has been answered.
async fn hold_open(req: &Request, count: usize, pid: u32) -> Result<Held> {
    let sent = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let req = Arc::new(req.clone());
    let start = Instant::now();
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let (req, sent, done) = (Arc::clone(&req), Arc::clone(&sent), Arc::clone(&done));
            tokio::spawn(async move {
                let result = async {
                    let mut conn = Conn::connect(req.addr()).await?;
                    sent.fetch_add(1, Ordering::SeqCst);
                    conn.exchange(&req, false).await
                }
                .await;
                done.fetch_add(1, Ordering::SeqCst);
                matches!(result, Ok(e) if e.status == 200)
            })
        })
        .collect();
    let mut held = Held {
        peak_rss: 0,
        samples_all_open: 0,
        ok: 0,
        elapsed: Duration::ZERO,
    };
    // The connects land within a few hundred milliseconds; the mock holds each request 2 s.
    let give_up = start + Duration::from_secs(30);
    while done.load(Ordering::SeqCst) < count && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let rss = rss_bytes(pid)?;
        if sent.load(Ordering::SeqCst) == count && done.load(Ordering::SeqCst) == 0 {
            held.peak_rss = held.peak_rss.max(rss);
            held.samples_all_open += 1;
        }
    }
    for task in tasks {
        if task.await? {
            held.ok += 1;
        }
    }
    held.elapsed = start.elapsed();
    if held.samples_all_open == 0 {
        bail!("never saw all {count} requests open at once");
    }
    Ok(held)
}

/// VmRSS of a process, in bytes.
fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .with_context(|| format!("no VmRSS in /proc/{pid}/status"))?;
    Ok(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let p = Percentiles::of((1..=1000).rev().map(Duration::from_micros).collect());
        assert_eq!(p.at(0.5), Duration::from_micros(500));
        assert_eq!(p.at(0.99), Duration::from_micros(990));
        assert_eq!(p.at(0.999), Duration::from_micros(999));
    }

    #[test]
    fn base_urls_become_socket_addresses() -> Result<()> {
        assert_eq!(
            socket_addr("http://127.0.0.1:8080/v1")?,
            "127.0.0.1:8080".parse()?
        );
        assert!(socket_addr("https://127.0.0.1:8080").is_err());
        Ok(())
    }
}
