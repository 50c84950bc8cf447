//! CRM Bridge task pane. The logic lives in plain modules tested on the host (`cargo test -p
//! addin-wasm`): the controller's state machine (`pane`: messages in, effects out), the page as
//! patches for a state (`view`), the pickers (`picker`), the selection and its preselection
//! (`selection`), the open item and the requests made from it (`item`), the status texts
//! (`status`), the server's JSON shapes from the shared wire crate (`model`) and the message
//! catalogs (`i18n`). In the browser, `app` runs the effects and patches the DOM, and `office`
//! is the one module that talks to Office.js.

pub mod i18n;
pub mod item;
pub mod model;
pub mod pane;
pub mod picker;
pub mod selection;
pub mod status;
pub mod view;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
mod office;
