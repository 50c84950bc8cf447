//! The add-in API's wire types, one definition for the server and the task pane: the request
//! and answer bodies (`api`), the enums for record kind, activity kind, entry status and job
//! status (`kinds`), and a small JSON codec for them (`json`, `codec`) that the pane uses instead
//! of serde_json to stay small. The server enables the `serde` and `utoipa` features.

pub mod api;
mod codec;
pub mod json;
pub mod kinds;

pub use api::*;
pub use kinds::{ActivityKind, EntryStatus, ItemKind, JobStatus};
