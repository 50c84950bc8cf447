//! CRM Bridge task pane. The logic lives in plain modules tested on the host (`cargo test -p
//! addin-wasm`): the pickers' state machine (`picker`), the selection and its preselection
//! (`selection`), the open item and the requests made from it (`item`), the status texts
//! (`status`), the server's JSON shapes (`model`) and the message catalogs (`i18n`). In the
//! browser, `app` is the thin DOM layer and `office` the one module that talks to Office.js.

pub mod i18n;
pub mod item;
pub mod model;
pub mod picker;
pub mod selection;
pub mod status;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
mod office;
