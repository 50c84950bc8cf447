//! `bench`: measures DESIGN.md §8's figures end to end and prints one `BENCH name=value` line
//! each. Run through `scripts/bench` (release build).
//!
//! raynet-sim and entra-sim (with its Microsoft Graph) run in this process; the server runs as
//! its own process (the release `crm-bridge`, see `rig`), so its RSS is its own. Parts: the item
//! cache (`lookup`), the task pane's loading in headless Chromium (`pane`) and calendar sync
//! (`calendar`); `--only` picks some.

mod calendar;
mod http1;
mod load;
mod lookup;
mod pane;
mod rig;

use std::{net::SocketAddr, path::PathBuf};

use clap::{Parser, ValueEnum};
use tests::{
    entra_sim::{DEFAULT_TENANT, EntraSim},
    raynet_sim::{RaynetSim, SimOptions},
};

/// A part of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    /// Import, lookup, suggest, webhook → lookup, restart.
    Lookup,
    /// The task pane's first and second opening in headless Chromium.
    Pane,
    /// Calendar sync: Raynet change → Outlook event, Graph calls per change, backfill.
    Calendar,
}

#[derive(Parser)]
struct Args {
    /// 100,000 items instead of 1,000,000, and shorter load phases and calendar runs.
    #[arg(long)]
    quick: bool,
    /// The release `crm-bridge` binary.
    #[arg(long, default_value = "target/release/crm-bridge")]
    server: PathBuf,
    /// Concurrent clients of the load phases.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Run only these parts (repeatable); default: all.
    #[arg(long, value_enum)]
    only: Vec<Part>,
    /// Threads of the load generator (1: one thread, so the generator takes one of the 2 cores
    /// the server shares with it, not both).
    #[arg(long, default_value_t = 1)]
    load_threads: usize,
}

impl Args {
    fn runs(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

/// Prints one figure.
fn bench(name: &str, value: impl std::fmt::Display) {
    println!("BENCH {name}={value}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.runs(Part::Lookup) {
        lookup::run(&args, args.runs(Part::Pane)).await?;
    } else if args.runs(Part::Pane) {
        // The pane alone: a server with a small CRM is enough.
        let raynet = RaynetSim::start(SimOptions::default()).await?;
        let entra = EntraSim::start(SocketAddr::from(([127, 0, 0, 1], 0)), DEFAULT_TENANT).await?;
        let dir = tempfile::tempdir()?;
        let server = rig::Prepared::new(&rig::Setup {
            bin: &args.server,
            dir: dir.path(),
            raynet: &raynet,
            entra: &entra,
            graph: false,
        })
        .await?
        .start()
        .await?;
        pane::measure(server.base()).await?;
        server.stop().await;
    }
    if args.runs(Part::Calendar) {
        calendar::run(&args).await?;
    }
    Ok(())
}
