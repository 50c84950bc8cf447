//! Calendar sync's figures (issue #13), on a server of its own with calendar sync on, Graph at
//! entra-sim's Microsoft 365 simulator and the Office 365 app's client secret stored:
//!
//! - `sync_visible_p99_ms`: a meeting created or retitled in raynet-sim (which posts its webhook
//!   to the server) until the event shows in the owner's simulated calendar (polled through
//!   `GET /_sim/mailboxes/{mail}/events`), at 10 changes a second for a fixed period: first
//!   creations, then changes of the meetings created.
//! - `graph_calls_per_change`: Graph calls answered by the simulator (`GET /_sim/graph-stats`)
//!   from the first change until Graph is quiet after a webhook storm (the same unchanged
//!   meetings' webhooks repeated), divided by the real changes only: the storm adds calls to the
//!   numerator if the content hash does not save them, never to the denominator.
//! - `backfill_events_per_s`: employees each owning meetings in Raynet are opted in through the
//!   admin API (which queues their backfill, which queues a sync job per meeting); events in
//!   their calendars per second until all are there, so the figure counts the writes, not the
//!   queuing. Stops with a message, not a figure, when backfill makes no progress.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{
    entra_sim::{DEFAULT_TENANT, EntraSim},
    raynet_sim::{RaynetSim, SimOptions, SimUser},
};

use crate::{
    Args, bench,
    load::percentile,
    rig::{Prepared, Rig, Setup},
};

/// Changes a second in the visibility run.
const RATE: u32 = 10;
/// Meetings whose webhook is repeated in the storm, and how often.
const STORM_MEETINGS: usize = 5;
const STORM_REPEATS: usize = 20;
/// A change not visible after this long counts as this long (and as missing).
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Backfill gives up when no event arrived for this long.
const BACKFILL_STALL: Duration = Duration::from_secs(30);

/// The sizes of one run.
struct Sizes {
    live_employees: usize,
    visible_secs: u32,
    backfill_employees: usize,
    backfill_meetings: usize,
}

impl Sizes {
    fn for_args(args: &Args) -> Self {
        if args.quick {
            Self {
                live_employees: 10,
                visible_secs: 10,
                backfill_employees: 40,
                backfill_meetings: 50,
            }
        } else {
            Self {
                live_employees: 10,
                visible_secs: 30,
                backfill_employees: 200,
                backfill_meetings: 50,
            }
        }
    }
}

/// Runs the calendar part.
pub(crate) async fn run(args: &Args) -> anyhow::Result<()> {
    let sizes = Sizes::for_args(args);
    let raynet = RaynetSim::start(SimOptions {
        daily_limit: 10_000_000,
        ..SimOptions::default()
    })
    .await?;
    let entra = EntraSim::start(SocketAddr::from(([127, 0, 0, 1], 0)), DEFAULT_TENANT).await?;
    let live: Vec<SimUser> = (0..sizes.live_employees)
        .map(|n| user(&raynet, &entra, &format!("zive{n}")))
        .collect();
    let backfilled: Vec<SimUser> = (0..sizes.backfill_employees)
        .map(|n| user(&raynet, &entra, &format!("zpetne{n}")))
        .collect();
    // The backfilled employees' meetings exist before the webhook is registered: only the
    // backfill can bring them to the calendars.
    let started = Instant::now();
    for owner in &backfilled {
        for k in 0..sizes.backfill_meetings {
            create_meeting(
                &raynet,
                owner,
                &format!("Schůzka {k} {}", owner.username),
                k,
            )?;
        }
    }
    eprintln!(
        "raynet-sim: {} meetings of {} employees made in {:?}",
        sizes.backfill_employees * sizes.backfill_meetings,
        sizes.backfill_employees,
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let dir = tempfile::tempdir()?;
    let prepared = Prepared::new(&Setup {
        bin: &args.server,
        dir: dir.path(),
        raynet: &raynet,
        entra: &entra,
        graph: true,
    })
    .await?;
    let mut live_ids = Vec::new();
    for u in &live {
        live_ids.push(prepared.employee(&u.username, Some(u)).await?.id);
    }
    let mut backfill_ids = Vec::new();
    for u in &backfilled {
        backfill_ids.push(prepared.employee(&u.username, Some(u)).await?.id);
    }
    let rig = prepared.start().await?;
    put(
        &rig,
        "/api/admin/calendar",
        &json!({"enabled": true, "activity_types": ["meeting"], "category": "Raynet",
                "start_date": "2026-01-01"}),
    )
    .await?;
    for id in &live_ids {
        opt_in(&rig, id).await?;
    }
    let graph = GraphStats::new(&entra);
    graph.quiet().await?;

    visibility_and_calls(&rig, &raynet, &graph, &live, &sizes).await?;
    backfill(&rig, &entra, &backfill_ids, &backfilled, &sizes).await?;
    rig.stop().await;
    Ok(())
}

/// A CRM user with a mailbox in the simulated Exchange.
fn user(raynet: &RaynetSim, entra: &EntraSim, name: &str) -> SimUser {
    let mail = format!("{name}@firma.example.cz");
    entra.graph().add_mailbox(&mail, name);
    raynet.sim.add_user(&mail, "FULL_THROTTLE", name)
}

/// Creates a meeting of `owner` on the `day`-th day from tomorrow (as a CRM user would, so its
/// webhook fires when one is registered); returns its id.
fn create_meeting(
    raynet: &RaynetSim,
    owner: &SimUser,
    title: &str,
    day: usize,
) -> anyhow::Result<i64> {
    let date = chrono::Utc::now().date_naive() + chrono::Days::new(1 + day as u64);
    let (status, body) = raynet.sim.user_change(
        &Method::PUT,
        "meeting",
        None,
        &json!({"title": title, "priority": "DEFAULT", "owner": owner.person_id,
                "scheduledFrom": format!("{date}T09:00:00+01:00"),
                "scheduledTill": format!("{date}T10:00:00+01:00")}),
    );
    if !status.is_success() {
        bail!("raynet-sim refused a meeting: {body}");
    }
    body["data"]["id"].as_i64().context("no meeting id")
}

async fn put(rig: &Rig, path: &str, body: &Value) -> anyhow::Result<()> {
    rig.admin
        .send_with_csrf(Method::PUT, &rig.url(path))
        .json(body)
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("PUT {path}"))?;
    Ok(())
}

async fn opt_in(rig: &Rig, employee_id: &str) -> anyhow::Result<()> {
    put(
        rig,
        &format!("/api/admin/calendar/employees/{employee_id}"),
        &json!({"enabled": true}),
    )
    .await
}

/// The simulator's Graph call counter, read through its control API.
struct GraphStats {
    client: reqwest::Client,
    base: String,
}

impl GraphStats {
    fn new(entra: &EntraSim) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: entra.authority(),
        }
    }

    async fn calls(&self) -> anyhow::Result<u64> {
        let stats: Value = self
            .client
            .get(format!("{}/_sim/graph-stats", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        stats["calls"].as_u64().context("no call count")
    }

    /// The call count once no call came for a second (at most 60 s).
    async fn quiet(&self) -> anyhow::Result<u64> {
        let mut last = self.calls().await?;
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = self.calls().await?;
            if now == last {
                return Ok(now);
            }
            last = now;
        }
        bail!("Graph calls did not stop within a minute ({last} so far)")
    }

    /// The subjects in `mail`'s calendar.
    async fn subjects(&self, mail: &str) -> anyhow::Result<Vec<String>> {
        let events: Value = self
            .client
            .get(format!("{}/_sim/mailboxes/{mail}/events", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(events["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["subject"].as_str().map(str::to_owned))
            .collect())
    }
}

/// The visibility run at [`RATE`] changes a second, then the storm; prints the figures.
async fn visibility_and_calls(
    rig: &Rig,
    raynet: &RaynetSim,
    graph: &GraphStats,
    live: &[SimUser],
    sizes: &Sizes,
) -> anyhow::Result<()> {
    let graph = Arc::new(GraphStats {
        client: graph.client.clone(),
        base: graph.base.clone(),
    });
    let before = graph.calls().await?;
    let total = (RATE * sizes.visible_secs) as usize;
    let creations = total / 2;
    let mut meetings: Vec<(i64, usize)> = Vec::new();
    let mut watchers = Vec::new();
    let started = Instant::now();
    for n in 0..total {
        let scheduled = started + Duration::from_secs_f64(n as f64 / f64::from(RATE));
        tokio::time::sleep_until(scheduled.into()).await;
        let title = format!("Bench {n}");
        let owner = if n < creations {
            let owner = n % live.len();
            let id = create_meeting(raynet, &live[owner], &title, n % 60)?;
            meetings.push((id, owner));
            owner
        } else {
            let (id, owner) = meetings[n - creations];
            let (status, body) = raynet.sim.user_change(
                &Method::POST,
                "meeting",
                Some(id),
                &json!({ "title": title }),
            );
            if !status.is_success() {
                bail!("raynet-sim refused a change: {body}");
            }
            owner
        };
        let mail = live[owner].username.clone();
        let graph = graph.clone();
        watchers.push(tokio::spawn(async move {
            loop {
                if graph.subjects(&mail).await?.contains(&title) {
                    return Ok::<_, anyhow::Error>(Some(scheduled.elapsed()));
                }
                if scheduled.elapsed() > VISIBLE_TIMEOUT {
                    return Ok(None);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    let mut times = Vec::new();
    let mut missing = 0;
    for w in watchers {
        match w.await?? {
            Some(t) => times.push(t.as_secs_f64() * 1000.0),
            None => {
                missing += 1;
                times.push(VISIBLE_TIMEOUT.as_secs_f64() * 1000.0);
            }
        }
    }
    let after_changes = graph.quiet().await?;

    // The storm: every stored meeting's webhook again, unchanged, many times.
    for (id, _) in meetings.iter().take(STORM_MEETINGS) {
        for r in 0..STORM_REPEATS {
            let status = rig
                .post_webhook(&json!({
                    "eventId": format!("storm-{id}-{r}"), "type": "record.updated",
                    "author": "admin@raynet.cz", "source": {"name": "user"},
                    "data": {"entityName": "Meeting", "entityId": id, "extIds": null}
                }))
                .await?;
            if !status.is_success() {
                bail!("the server refused a webhook: {status}");
            }
        }
    }
    let after_storm = graph.quiet().await?;

    bench("sync_changes", total);
    bench(
        "sync_visible_p50_ms",
        format!("{:.0}", percentile(&times, 0.5)),
    );
    bench(
        "sync_visible_p99_ms",
        format!("{:.0}", percentile(&times, 0.99)),
    );
    if missing > 0 {
        bench("sync_visible_missing", missing);
    }
    bench(
        "graph_calls_per_change",
        format!("{:.2}", (after_storm - before) as f64 / total as f64),
    );
    bench("storm_webhooks", STORM_MEETINGS * STORM_REPEATS);
    bench("storm_graph_calls", after_storm - after_changes);
    Ok(())
}

/// Opts the backfilled employees in and measures events per second until their calendars hold
/// every meeting.
async fn backfill(
    rig: &Rig,
    entra: &EntraSim,
    ids: &[String],
    users: &[SimUser],
    sizes: &Sizes,
) -> anyhow::Result<()> {
    let expected = sizes.backfill_employees * sizes.backfill_meetings;
    let count = || -> usize {
        users
            .iter()
            .map(|u| entra.graph().events(&u.username).map_or(0, |e| e.len()))
            .sum()
    };
    let started = Instant::now();
    for id in ids {
        opt_in(rig, id).await?;
    }
    let mut last = (0, Instant::now());
    loop {
        let now = count();
        if now >= expected {
            break;
        }
        if now > last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > BACKFILL_STALL {
            eprintln!(
                "backfill_events_per_s NOT MEASURED: {now} of {expected} events after {:.0} s, \
                 none for {} s. Backfill (a `calendar.backfill` job queued by \
                 PUT /api/admin/calendar/employees/{{id}}) is not in this build, or stalled.",
                started.elapsed().as_secs_f64(),
                BACKFILL_STALL.as_secs()
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    bench("backfill_events", expected);
    bench("backfill_s", format!("{elapsed:.1}"));
    bench(
        "backfill_events_per_s",
        format!("{:.0}", expected as f64 / elapsed),
    );
    Ok(())
}
