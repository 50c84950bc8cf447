//! `entra-sim --bind 127.0.0.1:0 --tenant TID`: runs the Microsoft identity simulator and prints
//! ONE JSON line `{"issuer","metadata_url","jwks_url","token_url","graph_url","client_id",
//! "client_secret"}`, then serves until Ctrl-C. Microsoft Graph's calendar subset is under
//! `graph_url`; mailboxes are added with `POST /_sim/mailboxes`.

use std::net::SocketAddr;

use clap::Parser;
use tests::entra_sim::{DEFAULT_CLIENT_ID, DEFAULT_TENANT, EntraSim};

#[derive(Parser)]
#[command(
    name = "entra-sim",
    about = "Microsoft Entra ID simulator for tests and the demo"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Tenant id.
    #[arg(long, default_value = DEFAULT_TENANT)]
    tenant: String,
    /// Client id (audience) of the API the tokens are for.
    #[arg(long, default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let sim = EntraSim::start_with(cli.bind, &cli.tenant, &cli.client_id).await?;
    println!("{}", serde_json::to_string(&sim.endpoints())?);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
