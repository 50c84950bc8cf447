//! `raynet-sim`: runs the Raynet CRM simulator until Ctrl-C. Prints ONE JSON line on start:
//! `{"url": "…/api/v2/", "instance": "…", "user": "…", "api_key": "…"}`.
//!
//! `cargo run -p tests --bin raynet-sim -- --bind 127.0.0.1:0 --instance demo --companies 1000 --seed 1`

use std::net::SocketAddr;

use clap::Parser;
use tests::raynet_sim::{GenOptions, RaynetSim, SimOptions};

#[derive(Parser)]
#[command(
    name = "raynet-sim",
    about = "A simulated Raynet CRM for tests and demos"
)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Instance name expected in X-Instance-Name.
    #[arg(long, default_value = "demo")]
    instance: String,
    /// Companies to generate.
    #[arg(long, default_value_t = 1000)]
    companies: usize,
    /// Contact persons per company.
    #[arg(long, default_value_t = 2)]
    persons_per_company: usize,
    /// Business cases per company.
    #[arg(long, default_value_t = 1)]
    business_cases_per_company: usize,
    /// Projects per company.
    #[arg(long, default_value_t = 1)]
    projects_per_company: usize,
    /// Seed of the sample data (same seed, same data).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Requests allowed per day.
    #[arg(long, default_value_t = 24_000)]
    daily_limit: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sim = RaynetSim::start(SimOptions {
        bind: args.bind,
        instance: args.instance,
        data: GenOptions {
            companies: args.companies,
            persons_per_company: args.persons_per_company,
            business_cases_per_company: args.business_cases_per_company,
            projects_per_company: args.projects_per_company,
            seed: args.seed,
        },
        daily_limit: args.daily_limit,
        record: false,
    })
    .await?;
    eprintln!(
        "raynet-sim: generated {} companies in {:.2?}",
        args.companies, sim.generated_in
    );
    println!(
        "{}",
        serde_json::json!({
            "url": sim.url,
            "instance": sim.instance,
            "user": sim.admin.username,
            "api_key": sim.admin.api_key,
        })
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
