//! `eshop`: the one binary of the shop, shipped in the one image.
//!
//! `eshop serve <service>` runs one service, which is what each pod runs; it
//! reads its settings from environment variables, listed by
//! `eshop serve <service> --help`. `eshop openapi <service>` prints a
//! service's OpenAPI document.

use std::{future::Future, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use eshop_platform::{
    server::{Application, BuildError},
    settings::{Env, ServiceSettings, env_help},
    shutdown, telemetry,
};

#[derive(Debug, Parser)]
#[command(
    name = "eshop",
    version,
    about = "The eShop: a demo shop of Rust services"
)]
enum Command {
    /// Run one service until SIGTERM or Ctrl-C. Settings come from
    /// environment variables; `eshop serve <service> --help` lists them.
    #[command(subcommand)]
    Serve(Service),
    /// Print a service's OpenAPI document (JSON).
    Openapi {
        #[command(subcommand)]
        service: Service,
    },
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum Service {
    /// Categories, products, search, images and stock reservations (PostgreSQL).
    #[command(after_long_help = env_help::<eshop_catalog::CatalogSettings>())]
    Catalog,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Command::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("eshop: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(Service::Catalog) => serve(eshop_catalog::build).await,
        Command::Openapi { service } => {
            let document = match service {
                Service::Catalog => eshop_catalog::openapi(),
            };
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(())
        }
    }
}

/// Loads `S` from the environment, builds the service and runs it.
async fn serve<S, F, Fut>(build: F) -> anyhow::Result<()>
where
    S: ServiceSettings,
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = Result<Application, BuildError>>,
{
    let settings = S::load(&Env::from_process()).context("invalid settings")?;
    telemetry::init(&settings.server().log);
    let application = build(settings).await.context("cannot start")?;
    application.run_until_stopped(shutdown::signal()).await?;
    Ok(())
}
