//! `eshop-operator`: `run` reconciles `EShop`s (the default), `crd` prints
//! the CustomResourceDefinition.
//!
//! `run` sets up logging, serves `/metrics` and `/healthz`, waits to lead
//! through a Lease, then runs the controller until SIGTERM or Ctrl-C, or
//! until it loses the Lease (then it exits, and Kubernetes restarts it).
//! On SIGTERM it stops taking new work, lets the reconciles in flight end
//! for at most [`DRAIN`], releases the Lease and exits. The controller's
//! client writes only while the Lease is held ([`eshop_operator::leader::Fence`]).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use eshop_operator::{
    controller::{self, Scope},
    crdgen,
    leader::{FenceLayer, LeaderElector, LeaseSettings},
    metrics::Metrics,
    server,
};
use kube::client::ClientBuilder;

/// How long the reconciles in flight at SIGTERM may take to end.
const DRAIN: Duration = Duration::from_secs(3);

#[derive(Debug, Parser)]
#[command(
    name = "eshop-operator",
    version,
    about = "The eShop's Kubernetes operator"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Reconcile EShop resources (the default).
    Run(RunArgs),
    /// Print the EShop CustomResourceDefinition as YAML.
    Crd,
}

#[derive(Debug, Clone, clap::Args)]
struct RunArgs {
    /// Look after the EShops of this namespace only (default: every namespace).
    #[arg(long, env = "ESHOP_OPERATOR_NAMESPACE")]
    namespace: Option<String>,
    /// Where to serve /metrics and /healthz.
    #[arg(long, env = "ESHOP_OPERATOR_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// The namespace of the leader election Lease (the operator's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// This replica's name in the Lease.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Log filter, e.g. `info` or `info,eshop_operator=debug`.
    #[arg(long, env = "ESHOP_OPERATOR_LOG", default_value = "info")]
    log: String,
    /// How long a candidate waits after the Lease last changed before it
    /// takes over.
    #[arg(long, env = "ESHOP_OPERATOR_LEASE_DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    lease_duration: Duration,
    /// How long the leader counts itself leader after its last successful
    /// renewal started; shorter than the lease duration.
    #[arg(long, env = "ESHOP_OPERATOR_RENEW_DEADLINE", default_value = "10s", value_parser = humantime::parse_duration)]
    renew_deadline: Duration,
    /// How often the leader renews the Lease and candidates look at it.
    #[arg(long, env = "ESHOP_OPERATOR_RETRY_PERIOD", default_value = "2s", value_parser = humantime::parse_duration)]
    retry_period: Duration,
}

impl Default for RunArgs {
    fn default() -> Self {
        Self::parse_from(["run"])
    }
}

impl RunArgs {
    fn parse_from<const N: usize>(args: [&str; N]) -> Self {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: RunArgs,
        }
        Wrapper::parse_from(args).args
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Some(Command::Crd) => {
            print!("{}", crdgen::crd_yaml());
            Ok(())
        }
        Some(Command::Run(args)) => run(args).await,
        None => run(RunArgs::default()).await,
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
        .init();
    anyhow::ensure!(
        args.renew_deadline < args.lease_duration,
        "--renew-deadline ({:?}) must be shorter than --lease-duration ({:?}), or two leaders could overlap",
        args.renew_deadline,
        args.lease_duration
    );
    let config = kube::Config::infer()
        .await
        .context("finding the Kubernetes API")?;
    let client =
        kube::Client::try_from(config.clone()).context("connecting to the Kubernetes API")?;
    let metrics = Arc::new(Metrics::default());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let router = server::router(Arc::clone(&metrics));
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "serving metrics");
        }
    });

    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| format!("eshop-operator-{}", std::process::id()));
    let elector = LeaderElector::new(
        client,
        LeaseSettings {
            lease_duration: args.lease_duration,
            renew_deadline: args.renew_deadline,
            retry_period: args.retry_period,
            ..LeaseSettings::new(
                args.lease_namespace.clone(),
                "eshop-operator".to_owned(),
                identity,
            )
        },
    );
    tokio::select! {
        () = elector.acquire() => {}
        () = shutdown_signal() => return Ok(()),
    }
    let fenced = ClientBuilder::try_from(config)
        .context("connecting to the Kubernetes API")?
        .with_layer(&FenceLayer(elector.fence()))
        .build();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut controller = tokio::spawn(controller::run(
        fenced,
        Scope {
            namespace: args.namespace,
        },
        metrics,
        async move {
            let _ = stopped.await;
        },
    ));
    let lost = tokio::select! {
        () = elector.keep() => true,
        () = shutdown_signal() => false,
        result = &mut controller => {
            result.context("the controller panicked")?;
            false
        }
    };
    if lost {
        anyhow::bail!(
            "lost the leader Lease: exiting so as never to reconcile beside another leader"
        );
    }
    let _ = stop.send(());
    if !controller.is_finished() && tokio::time::timeout(DRAIN, &mut controller).await.is_err() {
        tracing::warn!("reconciles still running after {DRAIN:?}: stopping them");
        controller.abort();
    }
    elector.release().await;
    tracing::info!("stopped, and released the Lease");
    Ok(())
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
