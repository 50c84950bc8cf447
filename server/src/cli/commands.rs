//! The bodies of the commands.

use std::io::IsTerminal;

use anyhow::Context;
use crm_bridge_wire::JobStatus;

use super::tr;
use crate::{
    config::Config,
    identity::password,
    store::{self, NewEmployee},
};

/// `migrate`: applies the database migrations.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
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

/// `serve`: runs the server until a shutdown signal.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.server.bind;
    let scheme = if config.tls.enabled() {
        "https"
    } else {
        "http"
    };
    let state = crate::build_state(config).await?;
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| {
        format!("cannot listen on {bind}; set --bind or CRM_BRIDGE_SERVER__BIND")
    })?;
    let local = listener.local_addr()?;
    tracing::info!(url = %format!("{scheme}://{local}"), backend = ?state.store.backend(), "listening");
    if let Some(link) = crate::admin::setup::issue_setup_link_if_needed(&state).await? {
        // Printed, not logged: the link is a credential until it is used.
        println!("{}\n  {link}", tr().t("cli-setup-link"));
        tracing::info!("printed a one-time setup link for the first admin");
    }
    crate::serve(state, listener, crate::shutdown::signal()).await
}

/// `admin create`: creates an admin account.
pub async fn create_admin(config: Config, email: &str) -> anyhow::Result<()> {
    let email = crate::email::EmailAddress::parse(email)?;
    let email = email.as_str();
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
    let state = crate::build_state(config).await?;
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

/// `crm test`: checks a CRM API key read from standard input.
pub async fn crm_test(
    config: &Config,
    base_url: String,
    instance: String,
    user: String,
) -> anyhow::Result<()> {
    use crate::crm::{Connection, Limits, connect};

    let mut key = String::new();
    std::io::stdin()
        .read_line(&mut key)
        .context("while reading the API key from standard input")?;
    let key = key.trim();
    if key.is_empty() {
        anyhow::bail!(tr().t("cli-no-api-key"));
    }
    let http = crate::http_client::for_crm(&config.crm)?;
    let client = connect(
        http,
        Connection {
            base_url,
            instance,
            user_email: user,
            api_key: key.to_owned().into(),
        },
        &config.crm,
        &Limits::new(config.crm.max_connections),
    )?;
    let report = client.test_connection().await?;
    for line in crate::crm::describe_connection(&report, &tr()) {
        println!("{line}");
    }
    Ok(())
}

/// `secrets rotate-key`: re-encrypts every stored secret under a new master key.
pub async fn rotate_key(config: Config) -> anyhow::Result<()> {
    use crate::secrets::{KeySource, MasterKey, rotate};
    use secrecy::ExposeSecret;
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
            crate::fsutil::write_private(&staged, new.to_base64().expose_secret().as_bytes())?;
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

/// `import`: imports everything from the CRM now, with a progress bar per kind. The run is an
/// `items.import` job which this process runs through the job runtime (holding its lease); when a
/// server holds it, or takes it over, this process follows the run's stored progress to its end.
pub async fn import(config: Config) -> anyhow::Result<()> {
    use crate::items::import;
    use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

    let state = crate::build_state(config).await?;
    let run_id = match import::unfinished_run(state.store.as_ref()).await? {
        Some(run) => run.run_id,
        None => import::queue_run(&state.items_ctx(), None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let runner = {
        let (store, queue) = (state.store.clone(), state.jobs.clone());
        let settings = crate::jobs::Settings::from(&state.config.jobs);
        let registry =
            crate::jobs::Registry::new().with(import::RunImports::new(state.items_ctx()));
        let run_id = run_id.clone();
        tokio::spawn(async move {
            loop {
                let ran = crate::jobs::run_job(
                    store.clone(),
                    queue.clone(),
                    settings.clone(),
                    registry.clone(),
                    &run_id,
                )
                .await;
                if let Err(e) = ran {
                    tracing::warn!(error = %e, "cannot lease the import's job");
                }
                let ended = store
                    .import_run(&run_id)
                    .await
                    .ok()
                    .flatten()
                    .is_none_or(|r| {
                        matches!(
                            JobStatus::parse(&r.status),
                            Some(JobStatus::Done | JobStatus::Failed)
                        )
                    });
                if ended {
                    return;
                }
                // A server holds the job (take it over if that server dies), or an attempt
                // failed and is tried again.
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        })
    };
    let style = ProgressStyle::with_template("{prefix:>14} [{bar:40}] {pos}/{len} {per_sec} {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bars = MultiProgress::new();
    let kinds: Vec<ProgressBar> = crate::items::ItemKind::ALL
        .iter()
        .map(|k| {
            let bar = bars.add(ProgressBar::new(0).with_style(style.clone()));
            bar.set_prefix(tr().t(match k {
                crate::items::ItemKind::Company => "kind-company",
                crate::items::ItemKind::Person => "kind-person",
                crate::items::ItemKind::Project => "kind-project",
                crate::items::ItemKind::BusinessCase => "kind-business-case",
            }));
            bar
        })
        .collect();
    loop {
        let Some(run) = state.store.import_run(&run_id).await? else {
            break;
        };
        let progress = import::ImportRun::from_row(&run).kinds;
        for (bar, p) in kinds.iter().zip(&progress) {
            bar.set_length(p.total.unwrap_or(p.done));
            bar.set_position(p.done);
            if p.finished && !bar.is_finished() {
                bar.finish();
            }
        }
        let ended = matches!(
            JobStatus::parse(&run.status),
            Some(JobStatus::Done | JobStatus::Failed)
        );
        if ended || runner.is_finished() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    if let Err(e) = runner.await {
        tracing::warn!(error = %e, "the import's runner stopped");
    }
    let tr = tr();
    let run = state.store.import_run(&run_id).await?;
    let run_arg = || ("run", run_id.as_str().into());
    match run {
        Some(run) if JobStatus::parse(&run.status) == Some(JobStatus::Done) => {
            let mut count = 0;
            for kind in crate::items::ItemKind::ALL {
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

/// `sync status`: each employee's calendar sync.
pub async fn sync_status(config: Config) -> anyhow::Result<()> {
    let state = crate::build_state(config).await?;
    let tr = tr();
    let statuses = crate::calendar::admin::employee_statuses(&state.calendar_ctx())
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
        let items = i64::try_from(s.items_in_sync).unwrap_or(i64::MAX);
        println!(
            "{}",
            tr.ta(
                "cli-sync-status",
                &[
                    ("mailbox", s.mailbox.into()),
                    ("state", tr.t(on).into()),
                    ("items", items.into()),
                    ("last", last.into()),
                    (
                        "error",
                        s.last_error.unwrap_or_else(|| tr.t("cli-sync-none")).into(),
                    ),
                ]
            )
        );
    }
    Ok(())
}

/// `sync run [--employee E]`: syncs now every activity in the calendars (or in one employee's),
/// and queues the backfill of every opted-in calendar (or of that employee's), which the
/// server's workers carry out.
pub async fn sync_run(config: Config, employee: Option<String>) -> anyhow::Result<()> {
    let state = crate::build_state(config).await?;
    let ctx = state.calendar_ctx();
    let count = crate::calendar::engine::run_now(&ctx, employee.as_deref())
        .await
        .map_err(|e| match e {
            crate::jobs::JobError::Retry { reason, .. } | crate::jobs::JobError::Fatal(reason) => {
                anyhow::anyhow!("{reason}")
            }
        })?;
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    println!("{}", tr().ta("cli-sync-run", &[("count", count.into())]));
    let queued = crate::calendar::service::queue_backfills(&ctx, employee.as_deref()).await?;
    let queued = i64::try_from(queued).unwrap_or(i64::MAX);
    println!(
        "{}",
        tr().ta("cli-sync-backfill", &[("count", queued.into())])
    );
    Ok(())
}

/// `sync preview [--employee E]`: what the next sync would do, one line per planned action with
/// the rule that decided it, then the counts; writes nothing.
pub async fn sync_preview(config: Config, employee: Option<String>) -> anyhow::Result<()> {
    let state = crate::build_state(config).await?;
    let tr = tr();
    let preview = crate::calendar::preview::preview(&state.calendar_ctx(), employee.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if !preview.sync_enabled {
        println!("{}", tr.t("cli-sync-preview-off"));
    }
    for a in &preview.actions {
        println!(
            "{}",
            tr.ta(
                "cli-sync-preview-line",
                &[
                    ("action", a.action.clone().into()),
                    ("activity", a.activity_key.clone().into()),
                    ("title", a.title.clone().into()),
                    ("mailbox", a.mailbox.clone().into()),
                    ("rule", a.rule.clone().into()),
                ]
            )
        );
    }
    let count = |action: &str| {
        i64::try_from(preview.counts.get(action).copied().unwrap_or(0)).unwrap_or(i64::MAX)
    };
    println!(
        "{}",
        tr.ta(
            "cli-sync-preview-total",
            &[
                ("create", count("create").into()),
                ("update", count("update").into()),
                (
                    "remove",
                    (count("delete") + count("cancel") + count("unlink")).into()
                ),
                ("skip", count("skip").into()),
            ]
        )
    );
    Ok(())
}
