#![recursion_limit = "256"]
//! Test support: a throw-away database (SQLite always, PostgreSQL when `TEST_DATABASE_URL` is
//! set) and an in-process server on a real loopback socket, plus the simulators of the services
//! we cannot reach (Raynet, Microsoft Entra ID).

pub mod calendar_rig;
pub mod db;
pub mod entra_sim;
pub mod process;
pub mod raynet_sim;
pub mod sandbox;
pub mod server;
pub mod spec;
pub mod stack;

pub use db::{TestDb, all_backends};
pub use server::{
    AdminClient, TestApp, mint_token_for, spawn_app, spawn_app_with, spawn_app_with_entra,
    spawn_app_with_entra_on, spawn_second_instance,
};

/// Installs a log subscriber when `TEST_LOG=1`; silent otherwise.
pub fn init_test_log() {
    if std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_test_writer()
            .try_init();
    }
}
