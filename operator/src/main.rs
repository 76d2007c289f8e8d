//! `eshop-operator`: `run` reconciles `EShop`s (the default), `crd` prints
//! the CustomResourceDefinition.
//!
//! `run` sets up logging, serves `/metrics` and `/healthz`, waits to lead
//! through a Lease, then runs the controller until SIGTERM or Ctrl-C, or
//! until it loses the Lease (then it exits, and Kubernetes restarts it).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use eshop_operator::{
    controller::{self, Scope},
    crdgen,
    leader::{LeaderElector, LeaseSettings},
    metrics::Metrics,
    server,
};

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
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
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
        client.clone(),
        LeaseSettings {
            namespace: args.lease_namespace.clone(),
            name: "eshop-operator".to_owned(),
            identity,
            lease_duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        },
    );
    tokio::select! {
        () = elector.acquire() => {}
        () = shutdown_signal() => return Ok(()),
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(controller::run(
        client,
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
    };
    let _ = stop.send(());
    if lost {
        anyhow::bail!(
            "lost the leader Lease: exiting so as never to reconcile beside another leader"
        );
    }
    controller.await.context("the controller panicked")?;
    elector.release().await;
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
