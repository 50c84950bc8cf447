//! `crm-bridge`: the command line. Parses flags, loads the configuration and hands over to the
//! library.
//!
//! Run with `crm-bridge serve` (SQLite in `./data`, <http://127.0.0.1:8080>).

use std::{io::IsTerminal, net::SocketAddr, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use figment::providers::Serialized;
use server::{
    config::{self, Config},
    i18n::{Lang, Tr},
    identity::password,
    store::{self, NewEmployee},
};

#[derive(Parser)]
#[command(
    name = "crm-bridge",
    version,
    about = "Raynet CRM ↔ Outlook add-in server"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct GlobalArgs {
    /// TOML configuration file (see server/config.example.toml).
    #[arg(long, global = true, env = "CRM_BRIDGE_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the SQLite database, keys and certificates [default: ./data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, global = true)]
    bind: Option<SocketAddr>,
}

#[derive(Subcommand)]
enum Command {
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
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Talk to the CRM.
    Crm {
        #[command(subcommand)]
        command: CrmCommand,
    },
    /// Manage secrets at rest.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Calendar sync to Outlook.
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
}

#[derive(Subcommand)]
enum SyncCommand {
    /// Each employee's calendar sync: opted in, items in sync, last sync, last error.
    Status,
    /// Sync now every activity already in the employees' calendars (or in one employee's).
    Run {
        /// Only this employee (id or sign-in e-mail).
        #[arg(long)]
        employee: Option<String>,
    },
}

#[derive(Subcommand)]
enum CrmCommand {
    /// Check a Raynet API key: prints who it belongs to and the remaining daily quota. The API
    /// key is read from standard input.
    Test {
        /// API address, e.g. https://app.raynet.cz/api/v2/ (also .sk, .com, eu.raynetcrm.com).
        #[arg(long, default_value = server::crm::raynet::DEFAULT_BASE_URL)]
        base_url: String,
        /// Instance name (the first path segment of the CRM's web address).
        #[arg(long)]
        instance: String,
        /// Login e-mail of the CRM user the key belongs to.
        #[arg(long)]
        user: String,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Re-encrypt every stored secret under a new master key (one transaction), then replace the
    /// key file, or print the new key when the key comes from the configuration/environment.
    RotateKey,
}

#[derive(Args)]
struct ServeArgs {
    /// PEM certificate chain for HTTPS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a development certificate for localhost (created in the data dir).
    #[arg(long, conflicts_with = "tls_cert")]
    tls_self_signed: bool,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin account. The password is read from standard input when it is not a
    /// terminal; otherwise (or when the input is empty) one is generated and printed once.
    Create {
        /// Sign-in e-mail of the admin.
        #[arg(long)]
        email: String,
    },
}

/// The translator for messages to the person at the terminal (language from `LANG`).
fn tr() -> Tr {
    Tr::new(Lang::from_locale_env())
}

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
            let tr = Tr::new(Lang::from_locale_env());
            eprintln!(
                "{}",
                tr.ta("cli-error", &[("message", format!("{e:#}").into())])
            );
            ExitCode::FAILURE
        }
    }
}

fn load_config(global: &GlobalArgs, serve: Option<&ServeArgs>) -> anyhow::Result<Config> {
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
        Command::Serve(_) => serve(config).await,
        Command::Migrate => {
            let url = config.database_url();
            store::connect_and_migrate(&url, config.database.max_connections)
                .await
                .with_context(|| format!("while migrating {}", url.redacted()))?;
            println!(
                "{}",
                tr().ta("cli-migrated", &[("url", url.redacted().into())])
            );
            Ok(())
        }
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
        } => create_admin(config, &email).await,
        Command::Crm {
            command:
                CrmCommand::Test {
                    base_url,
                    instance,
                    user,
                },
        } => crm_test(&config, base_url, instance, user).await,
        Command::Import => import(config).await,
        Command::Secrets {
            command: SecretsCommand::RotateKey,
        } => rotate_key(config).await,
        Command::Sync {
            command: SyncCommand::Status,
        } => sync_status(config).await,
        Command::Sync {
            command: SyncCommand::Run { employee },
        } => sync_run(config, employee).await,
    }
}

async fn sync_status(config: Config) -> anyhow::Result<()> {
    let state = server::build_state(config).await?;
    let tr = tr();
    let statuses = server::calendar::admin::employee_statuses(&state)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for s in statuses {
        let last = s
            .last_sync_at
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map_or_else(|| tr.t("cli-sync-never"), |t| t.to_rfc3339());
        let on = if s.enabled {
            "cli-sync-on"
        } else {
            "cli-sync-off"
        };
        println!(
            "{}",
            tr.ta(
                "cli-sync-status",
                &[
                    ("mailbox", s.mailbox.into()),
                    ("state", tr.t(on).into()),
                    ("items", (s.items_in_sync as i64).into()),
                    ("last", last.into()),
                    (
                        "error",
                        s.last_error.unwrap_or_else(|| tr.t("cli-sync-none")).into()
                    ),
                ]
            )
        );
    }
    Ok(())
}

async fn sync_run(config: Config, employee: Option<String>) -> anyhow::Result<()> {
    let state = server::build_state(config).await?;
    let count = server::calendar::engine::run_now(&state, employee.as_deref())
        .await
        .map_err(|e| match e {
            server::jobs::JobError::Retry { reason, .. }
            | server::jobs::JobError::Fatal(reason) => {
                anyhow::anyhow!("{reason}")
            }
        })?;
    println!(
        "{}",
        tr().ta("cli-sync-run", &[("count", (count as i64).into())])
    );
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.server.bind;
    let scheme = if config.tls.enabled() {
        "https"
    } else {
        "http"
    };
    let state = server::build_state(config).await?;
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| {
        format!("cannot listen on {bind}; set --bind or CRM_BRIDGE_SERVER__BIND")
    })?;
    let local = listener.local_addr()?;
    tracing::info!(url = %format!("{scheme}://{local}"), backend = ?state.store.backend(), "listening");
    if let Some(link) = server::admin::setup::issue_setup_link_if_needed(&state).await? {
        // Printed, not logged: the link is a credential until it is used.
        println!("{}\n  {link}", tr().t("cli-setup-link"));
        tracing::info!("printed a one-time setup link for the first admin");
    }
    server::serve(state, listener, server::shutdown::signal()).await
}

async fn create_admin(config: Config, email: &str) -> anyhow::Result<()> {
    let email = email.trim();
    if !email.contains('@') {
        anyhow::bail!("`{email}` is not an e-mail address");
    }
    let typed = if std::io::stdin().is_terminal() {
        String::new()
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("while reading the password")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    let generated = typed.is_empty();
    let secret = if generated {
        password::generate()
    } else {
        typed
    };
    let hash = password::hash(&secret)?;
    let state = server::build_state(config).await?;
    let admin = state
        .store
        .create_employee(NewEmployee {
            identifier: email.to_owned(),
            login_email: email.to_owned(),
            password_hash: Some(hash),
            admin: true,
            o365_email: email.to_owned(),
            ..NewEmployee::default()
        })
        .await?;
    let tr = tr();
    println!(
        "{}",
        tr.ta(
            "cli-admin-created",
            &[("email", admin.login_email.as_str().into())]
        )
    );
    if generated {
        println!(
            "{}",
            tr.ta("cli-password", &[("password", secret.as_str().into())])
        );
        println!("{}", tr.t("cli-password-once"));
    }
    Ok(())
}

async fn crm_test(
    config: &Config,
    base_url: String,
    instance: String,
    user: String,
) -> anyhow::Result<()> {
    use server::crm::{Crm, RaynetClient, RaynetConnection};

    let mut key = String::new();
    std::io::stdin()
        .read_line(&mut key)
        .context("while reading the API key from standard input")?;
    let key = key.trim();
    if key.is_empty() {
        anyhow::bail!(tr().t("cli-no-api-key"));
    }
    let http = server::http_client::for_crm(&config.crm)?;
    let client = RaynetClient::new(
        http,
        RaynetConnection {
            base_url,
            instance,
            user_email: user,
            api_key: key.to_owned().into(),
        },
        &config.crm,
    )?;
    let report = client.test_connection().await?;
    for line in server::crm::describe_connection(&report, &tr()) {
        println!("{line}");
    }
    Ok(())
}

async fn rotate_key(config: Config) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    use server::secrets::{KeySource, MasterKey, rotate};
    let url = config.database_url();
    let store = store::connect_and_migrate(&url, config.database.max_connections)
        .await
        .with_context(|| format!("while opening the database {}", url.redacted()))?;
    let (old, source) = MasterKey::load(&config)?;
    let new = MasterKey::generate();
    let staged = match &source {
        KeySource::File(path) => {
            // Written before the database changes, so the new key survives a crash in between.
            let staged = path.with_extension("key.new");
            server::fsutil::write_private(&staged, new.to_base64().expose_secret().as_bytes())?;
            Some((staged, path.clone()))
        }
        KeySource::Config => None,
    };
    let rotated = match rotate(store.as_ref(), &old, &new).await {
        Ok(rotated) => rotated,
        Err(e) => {
            if let Some((staged, _)) = &staged {
                let _ = std::fs::remove_file(staged);
            }
            return Err(e.context("nothing was changed"));
        }
    };
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    println!(
        "{}",
        tr().ta(
            "cli-rotated",
            &[
                ("keys", count(rotated.employee_keys).into()),
                ("fields", count(rotated.setting_fields).into())
            ]
        )
    );
    match staged {
        Some((staged, path)) => {
            std::fs::rename(&staged, &path).with_context(|| {
                format!(
                    "the new key is in {}; move it to {}",
                    staged.display(),
                    path.display()
                )
            })?;
            println!(
                "{}",
                tr().ta(
                    "cli-new-key-file",
                    &[("path", path.display().to_string().into())]
                )
            );
        }
        None => {
            println!("{}", tr().t("cli-new-key-print"));
            println!("{}", new.to_base64().expose_secret());
        }
    }
    Ok(())
}

async fn import(config: Config) -> anyhow::Result<()> {
    use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
    use server::items::import;

    let state = server::build_state(config).await?;
    let stale = state
        .store
        .import_runs(5)
        .await?
        .into_iter()
        .find(|r| r.status == "running");
    let run_id = match stale {
        Some(run) => run.run_id,
        None => import::queue_run(&state, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let Some(row) = state
        .store
        .claim_import_run_by_id(&run_id, import::STALE_MS)
        .await?
    else {
        anyhow::bail!(tr().ta("cli-import-busy", &[("run", run_id.as_str().into())]));
    };
    let style = ProgressStyle::with_template("{prefix:>14} [{bar:40}] {pos}/{len} {per_sec} {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bars = MultiProgress::new();
    let kinds: Vec<ProgressBar> = server::items::ItemKind::ALL
        .iter()
        .map(|k| {
            let bar = bars.add(ProgressBar::new(0).with_style(style.clone()));
            bar.set_prefix(tr().t(match k {
                server::items::ItemKind::Company => "kind-company",
                server::items::ItemKind::Person => "kind-person",
                server::items::ItemKind::Project => "kind-project",
                server::items::ItemKind::BusinessCase => "kind-business-case",
            }));
            bar
        })
        .collect();
    import::execute(&state, row, |progress| {
        for (bar, p) in kinds.iter().zip(progress) {
            bar.set_length(p.total.unwrap_or(p.done));
            bar.set_position(p.done);
            if p.finished {
                bar.finish();
            }
        }
    })
    .await;
    let tr = tr();
    let run = state.store.import_run(&run_id).await?;
    let run_arg = || ("run", run_id.as_str().into());
    match run {
        Some(run) if run.status == "done" => {
            let mut count = 0;
            for kind in server::items::ItemKind::ALL {
                count += state.store.count_items(kind).await?;
            }
            println!(
                "{}",
                tr.ta("cli-import-done", &[run_arg(), ("count", count.into())])
            );
            Ok(())
        }
        Some(run) => {
            let error = run.error.unwrap_or_default();
            anyhow::bail!(tr.ta("cli-import-failed", &[run_arg(), ("error", error.into())]))
        }
        None => anyhow::bail!(tr.ta("cli-import-failed", &[run_arg(), ("error", "-".into())])),
    }
}
