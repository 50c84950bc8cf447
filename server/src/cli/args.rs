//! The command line's flags and commands (clap), and the configuration they select.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};
use figment::providers::Serialized;

use crate::config::Config;

/// The command line.
#[derive(Parser)]
#[command(
    name = "crm-bridge",
    version,
    about = "Raynet CRM ↔ Outlook add-in server"
)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Args)]
pub struct GlobalArgs {
    /// TOML configuration file (see server/config.example.toml).
    #[arg(long, global = true, env = "CRM_BRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database, keys and certificates [default: ./data].
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, global = true)]
    pub bind: Option<SocketAddr>,
}

/// The commands.
#[derive(Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Print the effective configuration (secrets redacted), or the documented example.
    PrintConfig {
        /// Print the documented example file instead.
        #[arg(long)]
        example: bool,
    },
    /// Import every firm, person, project and business case from the CRM now, with a progress
    /// bar (resumes an interrupted run).
    Import,
    /// Manage admin accounts.
    Admin {
        /// Which admin command.
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Talk to the CRM.
    Crm {
        /// Which CRM command.
        #[command(subcommand)]
        command: CrmCommand,
    },
    /// Manage secrets at rest.
    Secrets {
        /// Which secrets command.
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Calendar sync to Outlook.
    Sync {
        /// Which sync command.
        #[command(subcommand)]
        command: SyncCommand,
    },
}

/// `sync …` commands.
#[derive(Subcommand)]
pub enum SyncCommand {
    /// Each employee's calendar sync: opted in, items in sync, last sync, last error.
    Status,
    /// Sync now every activity already in the employees' calendars (or in one employee's), and
    /// queue the backfill of every opted-in calendar (or of that employee's).
    Run {
        /// Only this employee (id or sign-in e-mail).
        #[arg(long)]
        employee: Option<String>,
    },
    /// Dry run: what the next sync would do (each planned action with the rule that decided
    /// it), for every opted-in employee or one; writes nothing.
    Preview {
        /// Only this employee (id or sign-in e-mail; planned even when not opted in).
        #[arg(long)]
        employee: Option<String>,
    },
}

/// `crm …` commands.
#[derive(Subcommand)]
pub enum CrmCommand {
    /// Check a Raynet API key: prints who it belongs to and the remaining daily quota. The API
    /// key is read from standard input.
    Test {
        /// API address, e.g. https://app.raynet.cz/api/v2/ (also .sk, .com, eu.raynetcrm.com).
        #[arg(long, default_value = crate::crm::DEFAULT_BASE_URL)]
        base_url: String,
        /// Instance name (the first path segment of the CRM's web address).
        #[arg(long)]
        instance: String,
        /// Login e-mail of the CRM user the key belongs to.
        #[arg(long)]
        user: String,
    },
}

/// `secrets …` commands.
#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every stored secret under a new master key (one transaction), then replace the
    /// key file, or print the new key when the key comes from the configuration/environment.
    RotateKey,
}

/// Flags of `serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// PEM certificate chain for HTTPS.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a development certificate for localhost (created in the data dir).
    #[arg(long, conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,
}

/// `admin …` commands.
#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create an admin account. The password is read from standard input when it is not a
    /// terminal; otherwise (or when the input is empty) one is generated and printed once.
    Create {
        /// Sign-in e-mail of the admin.
        #[arg(long)]
        email: String,
    },
}

/// The configuration: defaults, the file, the environment, then these flags.
pub fn load_config(global: &GlobalArgs, serve: Option<&ServeArgs>) -> anyhow::Result<Config> {
    let mut figment = Config::figment(global.config.as_deref());
    if let Some(dir) = &global.data_dir {
        figment = figment.merge(Serialized::default("server.data_dir", dir));
    }
    if let Some(bind) = &global.bind {
        figment = figment.merge(Serialized::default("server.bind", bind.to_string()));
    }
    if let Some(serve) = serve {
        if let (Some(cert), Some(key)) = (&serve.tls_cert, &serve.tls_key) {
            figment = figment
                .merge(Serialized::default("tls.cert", cert))
                .merge(Serialized::default("tls.key", key));
        }
        if serve.tls_self_signed {
            figment = figment.merge(Serialized::default("tls.self_signed", true));
        }
    }
    Ok(Config::from_figment(figment)?)
}
