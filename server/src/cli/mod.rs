//! The command line's commands, as library functions the thin `main.rs` dispatches to: serving,
//! creating an admin, testing a CRM key, importing with a progress bar and rotating the master
//! key. Messages to the person at the terminal are translated (language from `LANG`).

pub mod args;
mod commands;

pub use commands::{
    create_admin, crm_test, import, migrate, rotate_key, serve, sync_preview, sync_run, sync_status,
};

use crate::i18n::{Lang, Tr};

/// The translator for messages to the person at the terminal.
pub fn tr() -> Tr {
    Tr::new(Lang::from_locale_env())
}
