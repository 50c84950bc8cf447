//! `crm-bridge`: the command line. Parses flags, loads the configuration and hands over to the
//! library's commands (`server::cli`).
//!
//! Run with `crm-bridge serve` (SQLite in `./data`, <http://127.0.0.1:8080>).

use std::process::ExitCode;

use clap::Parser;
use server::{
    cli::{
        self,
        args::{AdminCommand, Cli, Command, CrmCommand, SecretsCommand, SyncCommand, load_config},
    },
    config,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "{}",
                cli::tr().ta("cli-error", &[("message", format!("{e:#}").into())])
            );
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let serve_args = match &cli.command {
        Command::Serve(args) => Some(args),
        _ => None,
    };
    let config = load_config(&cli.global, serve_args)?;
    server::telemetry::init(&config.log);
    for name in config::unknown_env_vars(std::env::vars()) {
        tracing::warn!(variable = %name, "unknown configuration variable ignored; is it misspelled? see `crm-bridge print-config`");
    }
    match cli.command {
        Command::Serve(_) => cli::serve(config).await,
        Command::Migrate => cli::migrate(&config).await,
        Command::PrintConfig { example } => {
            if example {
                print!("{}", config::EXAMPLE);
            } else {
                print!("{}", config.to_redacted_toml());
            }
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::Create { email },
        } => cli::create_admin(config, &email).await,
        Command::Crm {
            command:
                CrmCommand::Test {
                    base_url,
                    instance,
                    user,
                },
        } => cli::crm_test(&config, base_url, instance, user).await,
        Command::Import => cli::import(config).await,
        Command::Secrets {
            command: SecretsCommand::RotateKey,
        } => cli::rotate_key(config).await,
        Command::Sync {
            command: SyncCommand::Status,
        } => cli::sync_status(config).await,
        Command::Sync {
            command: SyncCommand::Run { employee },
        } => cli::sync_run(config, employee).await,
        Command::Sync {
            command: SyncCommand::Preview { employee },
        } => cli::sync_preview(config, employee).await,
    }
}
