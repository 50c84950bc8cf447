//! The item cache's figures (DESIGN.md §8): import against a page-through of the CRM, lookup
//! and `/healthz` under the same closed-loop load, lookup under an open-loop load, suggest,
//! webhook → visible in lookup, memory, and the time to answer lookups after a restart.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::bail;
use reqwest::Method;
use serde_json::{Value, json};
use server::{
    crm::Crm,
    items::{ItemKind, import::PageStream},
};
use tests::{
    entra_sim::{DEFAULT_TENANT, EntraSim},
    raynet_sim::{GenOptions, RaynetSim, SimOptions},
    stack::crm_admin_client,
};

use crate::{
    Args, bench,
    http1::Requests,
    load::{OPEN_LOOP_RATE, load, open_loop, percentile},
    rig::{Prepared, Rig, Setup},
};

/// Runs the item cache's part; measures the task pane's loading on the same server when `pane`.
pub(crate) async fn run(args: &Args, pane: bool) -> anyhow::Result<()> {
    let companies = if args.quick { 16_667 } else { 166_667 };
    let load_secs = if args.quick { 5 } else { 10 };

    // The simulated CRM: per firm 3 persons, 1 business case, 1 project → 6 items.
    let started = Instant::now();
    let raynet = RaynetSim::start(SimOptions {
        data: GenOptions {
            companies,
            persons_per_company: 3,
            business_cases_per_company: 1,
            projects_per_company: 1,
            seed: 42,
        },
        daily_limit: 1_000_000,
        ..SimOptions::default()
    })
    .await?;
    let items: usize = ["company", "person", "businessCase", "project"]
        .iter()
        .map(|e| raynet.sim.count(e))
        .sum();
    eprintln!(
        "raynet-sim: {items} items generated in {:?}",
        started.elapsed()
    );
    bench("items", items);

    let fetch_only = fetch_all_pages(&raynet).await?;
    bench("fetch_only_s", format!("{:.2}", fetch_only.as_secs_f64()));

    let entra = EntraSim::start(SocketAddr::from(([127, 0, 0, 1], 0)), DEFAULT_TENANT).await?;
    let data_dir = tempfile::tempdir()?;
    let prepared = Prepared::new(&Setup {
        bin: &args.server,
        dir: data_dir.path(),
        raynet: &raynet,
        entra: &entra,
        graph: false,
    })
    .await?;
    let employee = prepared.employee("obchodnik@example.cz", None).await?;
    let mut server = prepared.start().await?;

    // Import.
    let started = Instant::now();
    server
        .admin
        .import(server.base(), Duration::from_secs(1800))
        .await?;
    let import = started.elapsed();
    bench("import_s", format!("{:.2}", import.as_secs_f64()));
    bench(
        "import_ratio",
        format!("{:.2}", import.as_secs_f64() / fetch_only.as_secs_f64()),
    );
    bench("rss_mb", server.process.rss_mb()?);

    // Lookups and the trivial handler, same concurrency, same run.
    let token =
        entra.mint(&json!({ "preferred_username": employee.o365_email, "name": "Obchodník" }));
    let queries = lookup_queries(&raynet, 2000);
    let lookups = Arc::new(queries.iter().fold(
        Requests::new(server.base())?,
        |requests, (kind, q)| {
            requests.get(
                &format!("/api/addin/lookup?kind={kind}&q={q}&limit=20"),
                Some(&token),
            )
        },
    ));
    let threads = args.load_threads;
    let lookup = load(
        threads,
        args.concurrency,
        Duration::from_secs(load_secs),
        lookups.clone(),
    )
    .await?;
    let healthz = load(
        threads,
        args.concurrency,
        Duration::from_secs(load_secs),
        Arc::new(Requests::new(server.base())?.get("/healthz", None)),
    )
    .await?;
    bench("lookup_p50_ms", format!("{:.2}", lookup.p(0.50)));
    bench("lookup_p99_ms", format!("{:.2}", lookup.p(0.99)));
    bench("lookup_rps", format!("{:.0}", lookup.rps()));
    bench("healthz_p99_ms", format!("{:.2}", healthz.p(0.99)));
    bench("healthz_rps", format!("{:.0}", healthz.rps()));
    bench(
        "lookup_vs_healthz_ratio",
        format!("{:.2}", lookup.rps() / healthz.rps()),
    );
    let open = open_loop(
        threads,
        OPEN_LOOP_RATE,
        Duration::from_secs(load_secs),
        lookups,
    )
    .await?;
    bench("lookup_open_rps", format!("{:.0}", open.rps()));
    bench("lookup_open_p50_ms", format!("{:.2}", open.p(0.50)));
    bench("lookup_open_p99_ms", format!("{:.2}", open.p(0.99)));

    // Suggest with 10 addresses: 6 known persons, 2 unknown at known domains, 2 free-mail.
    let suggests = suggest_bodies(&raynet, 500).iter().try_fold(
        Requests::new(server.base())?,
        |requests, body| {
            Ok::<_, anyhow::Error>(requests.post_json(
                "/api/addin/suggest",
                &token,
                &serde_json::to_vec(body)?,
            ))
        },
    )?;
    let suggest = load(
        threads,
        16,
        Duration::from_secs(load_secs / 2),
        Arc::new(suggests),
    )
    .await?;
    bench("suggest_p50_ms", format!("{:.2}", suggest.p(0.50)));
    bench("suggest_p99_ms", format!("{:.2}", suggest.p(0.99)));
    bench("suggest_rps", format!("{:.0}", suggest.rps()));

    // Webhook → visible in lookup.
    let visible =
        webhook_to_visible(&server, &raynet, &token, if args.quick { 50 } else { 200 }).await?;
    bench(
        "webhook_visible_p99_ms",
        format!("{:.1}", percentile(&visible, 0.99)),
    );
    bench("rss_mb_end", server.process.rss_mb()?);

    if pane {
        crate::pane::measure(server.base()).await?;
    }

    // Killed and started again: how long until lookups are answered from the whole index.
    let ready = server.restart(&token).await?;
    bench("restart_ready_s", format!("{:.2}", ready.as_secs_f64()));
    // The same index loaded from its snapshot: no import behind it, so what the import's
    // allocations leave in the heap shows as the difference to `rss_mb`.
    bench("rss_mb_restart", server.process.rss_mb()?);
    server.stop().await;
    Ok(())
}

/// Time to page through every kind with the import's own page pipeline, writing nothing.
async fn fetch_all_pages(raynet: &RaynetSim) -> anyhow::Result<Duration> {
    let client: Arc<dyn Crm> = Arc::new(crm_admin_client(raynet)?);
    let started = Instant::now();
    let mut errors = 0;
    for kind in ItemKind::ALL {
        let mut pages = PageStream::new(client.clone(), kind, 0);
        while let Some(page) = pages.next(&mut errors).await? {
            std::hint::black_box(page);
        }
    }
    Ok(started.elapsed())
}

/// Realistic type-ahead queries: 2–6 character prefixes of words of real names.
fn lookup_queries(raynet: &RaynetSim, n: usize) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(n);
    let mut rng = 1u64;
    let mut next = move || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) as usize
    };
    let companies = raynet.sim.count("company");
    let persons = raynet.sim.count("person");
    while out.len() < n {
        let (kind, name) = if next() % 2 == 0 {
            let c = raynet.sim.company((next() % companies) as i64 + 1);
            ("company", c.map(|c| c.name.to_string()))
        } else {
            let p = raynet.sim.person((next() % persons) as i64 + 1);
            ("person", p.map(|p| format!("{} {}", p.first, p.last)))
        };
        let Some(name) = name else { continue };
        let words: Vec<&str> = name
            .split_whitespace()
            .filter(|w| w.chars().count() >= 2)
            .collect();
        if words.is_empty() {
            continue;
        }
        let word = words[next() % words.len()];
        let len = 2 + next() % 5;
        let prefix: String = word.chars().take(len).collect();
        let encoded: String = url::form_urlencoded::byte_serialize(prefix.as_bytes()).collect();
        out.push((kind, encoded));
    }
    out
}

fn suggest_bodies(raynet: &RaynetSim, n: usize) -> Vec<Value> {
    let persons = raynet.sim.count("person") as i64;
    (0..n as i64)
        .map(|i| {
            let mut addresses: Vec<String> = (0..6)
                .filter_map(|k| raynet.sim.person((i * 7919 + k * 104_729) % persons + 1))
                .filter_map(|p| p.email.map(|e| e.to_string()))
                .collect();
            if let Some(domain) = addresses
                .first()
                .and_then(|a| a.split_once('@'))
                .map(|(_, d)| d.to_owned())
            {
                addresses.push(format!("novy.kontakt{i}@{domain}"));
                addresses.push(format!("jiny{i}@{domain}"));
            }
            addresses.push(format!("soukromy{i}@gmail.com"));
            addresses.push(format!("dalsi{i}@seznam.cz"));
            json!({ "addresses": addresses })
        })
        .collect()
}

async fn webhook_to_visible(
    server: &Rig,
    raynet: &RaynetSim,
    token: &str,
    rounds: usize,
) -> anyhow::Result<Vec<f64>> {
    let client = reqwest::Client::new();
    let mut times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let id = (round as i64) * 37 + 1;
        let marker = format!("Benchmarkova{round}x");
        let started = Instant::now();
        let (status, body) = raynet.sim.user_change(
            &Method::POST,
            "company",
            Some(id),
            &json!({ "name": marker }),
        );
        if !status.is_success() {
            bail!("changing firm {id} in the simulator failed: {body}");
        }
        let folded = marker.to_lowercase();
        loop {
            let found: Value = client
                .get(server.url(&format!(
                    "/api/addin/lookup?kind=company&q={folded}&limit=1"
                )))
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            if found["items"][0]["id"] == id {
                break;
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("change {round} not visible after 10 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(times)
}
