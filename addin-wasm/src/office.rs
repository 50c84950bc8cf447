//! The one module that talks to Office: the open item, `ItemChanged`, the display language and
//! the access token, through the small adapter `web/js/office.js` (`window.crmBridgeOffice`),
//! which hides Office.js's callback style and the read/compose differences.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::{item::MailItem, model::json};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crmBridgeOffice, js_name = readItem)]
    fn read_item_js() -> Promise;
    #[wasm_bindgen(js_namespace = crmBridgeOffice, js_name = onItemChanged)]
    fn on_item_changed_js(handler: &Function);
    #[wasm_bindgen(js_namespace = crmBridgeOffice, js_name = displayLanguage)]
    fn display_language_js() -> String;
    #[wasm_bindgen(js_namespace = crmBridgeOffice, js_name = getToken)]
    fn get_token_js() -> Promise;
}

fn reason(err: JsValue) -> String {
    err.as_string()
        .or_else(|| {
            js_sys::Reflect::get(&err, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| "unknown error".to_owned())
}

/// The open item, `Ok(None)` when nothing is selected (pinned pane).
pub(crate) async fn read_item() -> Result<Option<MailItem>, String> {
    let value = JsFuture::from(read_item_js()).await.map_err(reason)?;
    match value.as_string() {
        None => Ok(None),
        Some(text) => json::from_str(&text).map(Some).map_err(|e| e.0.to_owned()),
    }
}

/// Calls `handler` whenever the selected item changes.
pub(crate) fn on_item_changed(handler: &Function) {
    on_item_changed_js(handler);
}

/// Office's display language (e.g. `cs-CZ`).
pub(crate) fn display_language() -> String {
    display_language_js()
}

/// An access token for our API (NAA, or `Office.auth.getAccessToken` as the fallback).
pub(crate) async fn token() -> Result<String, String> {
    let value = JsFuture::from(get_token_js()).await.map_err(reason)?;
    value
        .as_string()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| "no token".to_owned())
}
