//! Command line: `keyway serve | api | gateway | migrate | mock-provider`.
//!
//! Flags override the settings file and `KEYWAY_*` environment variables.

use crate::{Application, Parts};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use figment::providers::Serialized;
use keyway_config::Settings;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Keyway: one endpoint for every LLM provider, with keys, budgets, limits and analytics.
#[derive(Debug, Parser)]
#[command(name = "keyway", version, about)]
struct Cli {
    /// Settings file (TOML). Environment: KEYWAY_CONFIG.
    #[arg(long, global = true, env = "KEYWAY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Everything in one process: dashboard + API and gateway (migrates the database first).
    Serve(ServeArgs),
    /// Dashboard + control-plane API only.
    Api(PartArgs),
    /// Gateway (data plane) only.
    Gateway(PartArgs),
    /// Applies control-plane and analytics migrations, then exits.
    Migrate(DataArgs),
    /// Operator commands: organizations, provider credentials, virtual keys.
    Admin {
        #[command(flatten)]
        data: DataArgs,
        #[command(subcommand)]
        command: crate::admin::AdminCommand,
    },
    /// The mock LLM provider (OpenAI, Anthropic and Gemini wire formats) for tests and benchmarks.
    MockProvider(MockArgs),
}

#[derive(Debug, Args)]
struct DataArgs {
    /// Directory for the embedded default's state (SQLite files, outbox, master key).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Dashboard + API listen address [default: 127.0.0.1:3000].
    #[arg(long)]
    api_addr: Option<SocketAddr>,
    /// Gateway listen address [default: 127.0.0.1:8080].
    #[arg(long)]
    gateway_addr: Option<SocketAddr>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Debug, Args)]
struct PartArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// Apply pending migrations before starting.
    #[arg(long)]
    migrate: bool,
}

#[derive(Debug, Args)]
struct MockArgs {
    /// Listen address; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:9090")]
    addr: SocketAddr,
    /// Serve HTTPS (HTTP/2 or HTTP/1.1 by ALPN) under a certificate authority made at start-up,
    /// and write the authority's PEM certificate to this file (for `gateway.upstream_ca_file`).
    #[arg(long, value_name = "PATH")]
    tls_ca_out: Option<PathBuf>,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::MockProvider(args) => {
            let mut builder = keyway_mock_provider::MockProvider::builder();
            if args.tls_ca_out.is_some() {
                builder = builder.tls();
            }
            let mock = builder.start(args.addr).await?;
            if let (Some(path), Some(pem)) = (&args.tls_ca_out, mock.ca_pem()) {
                std::fs::write(path, pem)
                    .with_context(|| format!("writing the CA certificate to {}", path.display()))?;
            }
            println!("mock provider listening on {}", mock.base_url());
            crate::shutdown::signal().await;
            mock.stop().await;
            Ok(())
        }
        Command::Migrate(data) => {
            let settings = load(
                cli.config,
                &ServeArgs {
                    api_addr: None,
                    gateway_addr: None,
                    data,
                },
            )?;
            crate::migrate(&settings).await
        }
        Command::Admin { data, command } => {
            let settings = load(
                cli.config,
                &ServeArgs {
                    api_addr: None,
                    gateway_addr: None,
                    data,
                },
            )?;
            let services = crate::Services::connect(&settings).await?;
            services.migrate().await?;
            let result = crate::admin::run(&services, command).await;
            services.close().await;
            result
        }
        Command::Serve(args) => start(load(cli.config, &args)?, Parts::Both, true).await,
        Command::Api(args) => start(load(cli.config, &args.serve)?, Parts::Api, args.migrate).await,
        Command::Gateway(args) => {
            start(load(cli.config, &args.serve)?, Parts::Gateway, args.migrate).await
        }
    }
}

async fn start(settings: Settings, parts: Parts, migrate: bool) -> anyhow::Result<()> {
    parts.check_built()?;
    if migrate {
        crate::migrate(&settings).await?;
    }
    let app = Application::build(settings, parts).await?;
    if let Some(url) = app.api_url() {
        println!("Keyway dashboard and API: {url}");
    }
    if let Some(url) = app.gateway_url() {
        println!("Keyway gateway:           {url}/v1");
    }
    app.run_until_stopped().await
}

fn load(file: Option<PathBuf>, args: &ServeArgs) -> anyhow::Result<Settings> {
    let mut figment = Settings::figment(file.as_deref());
    if let Some(addr) = args.api_addr {
        figment = figment.merge(Serialized::default("server.api_addr", addr));
    }
    if let Some(addr) = args.gateway_addr {
        figment = figment.merge(Serialized::default("server.gateway_addr", addr));
    }
    if let Some(dir) = &args.data.data_dir {
        figment = figment.merge(Serialized::default("server.data_dir", dir));
    }
    Ok(Settings::from_figment(figment)?)
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("KEYWAY_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,actix_server=warn"));
    // Logs go to stderr, so stdout carries only what commands print (URLs, ids, a new key).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}
