//! The thin browser runner: turns DOM events of `taskpane.html` and Office's `ItemChanged` into
//! messages for the state machine in `pane`, carries out the effects it returns (read the item,
//! call the API, timers, inputs) and applies the patches of `view` to the page.

use std::cell::RefCell;

use wasm_bindgen::{JsCast, prelude::*};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{
    Document, Element, Event, Headers, HtmlInputElement, KeyboardEvent, Request, RequestInit,
    Response,
};

use crate::{
    i18n::{Catalog, Lang},
    model::Kind,
    office,
    pane::{Effect, KINDS, Method, Msg, Pane},
    picker::Key,
    status::Problem,
    view::{Patch, render},
};

struct Runner {
    pane: Pane,
    api: String,
}

thread_local! {
    static APP: RefCell<Option<Runner>> = const { RefCell::new(None) };
}

fn document() -> Option<Document> {
    web_sys::window()?.document()
}

fn by_id(id: &str) -> Option<Element> {
    let doc = document()?;
    if id == "body" {
        return doc.body().map(Into::into);
    }
    doc.get_element_by_id(id)
}

fn input_of(kind: Kind) -> Option<HtmlInputElement> {
    by_id(&["q-", kind.as_str()].concat())?.dyn_into().ok()
}

fn display_language() -> Lang {
    Lang::from_display_language(&office::display_language())
}

/// Starts the pane: `api_base` is the server's origin ("" for the page's own).
#[wasm_bindgen]
pub fn start(api_base: String) {
    let lang = display_language();
    let pane = Pane::new(lang);
    translate_page(&pane.t);
    APP.with(|cell| {
        *cell.borrow_mut() = Some(Runner {
            pane,
            api: api_base.trim_end_matches('/').to_owned(),
        })
    });
    listen("input", on_input);
    listen("keydown", on_keydown);
    listen("focusin", on_focus);
    listen("click", on_click);
    let changed = Closure::<dyn FnMut()>::new(|| {
        dispatch(Msg::ItemChanged(display_language()));
    });
    office::on_item_changed(changed.as_ref().unchecked_ref());
    changed.forget();
    if let Some(body) = document().and_then(|d| d.body()) {
        let _ = body.set_attribute("data-ready", "1");
    }
    dispatch(Msg::ItemChanged(lang));
}

/// Hands `msg` to the state machine and carries out what it returns; `true` when the event
/// that caused it was handled (no browser default).
fn dispatch(msg: Msg) -> bool {
    let Some(effects) = APP.with(|cell| cell.borrow_mut().as_mut().map(|r| r.pane.update(msg)))
    else {
        return false;
    };
    let mut handled = false;
    for effect in effects {
        match effect {
            Effect::Render => APP.with(|cell| {
                if let Some(r) = cell.borrow().as_ref() {
                    apply(render(&r.pane));
                }
            }),
            Effect::Translate => APP.with(|cell| {
                if let Some(r) = cell.borrow().as_ref() {
                    translate_page(&r.pane.t);
                }
            }),
            Effect::ClearInputs => KINDS.into_iter().for_each(clear_input),
            Effect::ClearInput(kind) => clear_input(kind),
            Effect::Handled => handled = true,
            Effect::ReadItem(generation) => spawn_local(async move {
                let item = office::read_item().await.map(|i| i.map(Box::new));
                dispatch(Msg::ItemRead(generation, item));
            }),
            Effect::Http {
                generation,
                call,
                method,
                path,
                body,
            } => spawn_local(async move {
                let result = fetch(method, &path, body).await;
                dispatch(Msg::Answered(generation, call, result));
            }),
            Effect::After(ms, msg) => after(ms, move || {
                dispatch(msg);
            }),
        }
    }
    handled
}

fn clear_input(kind: Kind) {
    if let Some(input) = input_of(kind) {
        input.set_value("");
    }
}

fn apply(patches: Vec<Patch>) {
    for patch in patches {
        match patch {
            Patch::Html(id, html) => {
                if let Some(el) = by_id(&id) {
                    el.set_inner_html(&html);
                }
            }
            Patch::Show(id, visible) => {
                if let Some(el) = by_id(&id) {
                    let _ = if visible {
                        el.remove_attribute("hidden")
                    } else {
                        el.set_attribute("hidden", "")
                    };
                }
            }
            Patch::Attr(id, name, value) => {
                if let Some(el) = by_id(&id) {
                    let _ = match value {
                        Some(v) => el.set_attribute(name, &v),
                        None => el.remove_attribute(name),
                    };
                }
            }
            Patch::Text(id, text) => {
                if let Some(el) = by_id(&id) {
                    el.set_text_content(Some(&text));
                }
            }
        }
    }
}

fn translate_page(t: &Catalog) {
    let Some(doc) = document() else { return };
    if let Some(root) = doc.document_element() {
        let _ = root.set_attribute("lang", if t.lang() == Lang::Cs { "cs" } else { "en" });
    }
    for (key_attr, target) in [
        ("data-i18n", None),
        ("data-i18n-placeholder", Some("placeholder")),
    ] {
        let Ok(nodes) = doc.query_selector_all(&["[", key_attr, "]"].concat()) else {
            continue;
        };
        for i in 0..nodes.length() {
            let Some(el) = nodes.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
                continue;
            };
            let text = t.t(&el.get_attribute(key_attr).unwrap_or_default());
            match target {
                Some(a) => {
                    let _ = el.set_attribute(a, &text);
                }
                None => el.set_text_content(Some(&text)),
            }
        }
    }
}

fn listen(event: &str, handler: fn(Event)) {
    let Some(doc) = document() else { return };
    let closure = Closure::<dyn FnMut(Event)>::new(handler);
    let _ = doc.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    closure.forget();
}

fn target_kind(event: &Event) -> Option<(Kind, HtmlInputElement)> {
    let input: HtmlInputElement = event.target()?.dyn_into().ok()?;
    let kind = Kind::parse(input.id().strip_prefix("q-")?)?;
    Some((kind, input))
}

fn after(ms: i32, f: impl FnOnce() + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let closure = Closure::once_into_js(f);
    let _ =
        window.set_timeout_with_callback_and_timeout_and_arguments_0(closure.unchecked_ref(), ms);
}

fn on_input(event: Event) {
    if let Some((kind, input)) = target_kind(&event) {
        dispatch(Msg::Input(kind, input.value()));
    }
}

fn on_focus(event: Event) {
    if let Some((kind, _)) = target_kind(&event) {
        dispatch(Msg::Focus(kind));
    }
}

fn on_keydown(event: Event) {
    let Some((kind, _)) = target_kind(&event) else {
        return;
    };
    let Some(key) = event
        .dyn_ref::<KeyboardEvent>()
        .and_then(|k| Key::from_dom(&k.key()))
    else {
        return;
    };
    if dispatch(Msg::Key(kind, key)) {
        event.prevent_default();
    }
}

fn on_click(event: Event) {
    let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
        return;
    };
    let Ok(Some(el)) = target.closest("[data-act]") else {
        return;
    };
    let attr = |name: &str| el.get_attribute(name).unwrap_or_default();
    let kind = Kind::parse(&attr("data-kind"));
    let msg = match attr("data-act").as_str() {
        "pick" => match (kind, attr("data-index").parse::<usize>()) {
            (Some(kind), Ok(index)) => Msg::Pick(kind, index),
            _ => return,
        },
        "remove" => match (kind, attr("data-id").parse::<i64>()) {
            (Some(kind), Ok(id)) => Msg::Remove(kind, id),
            _ => return,
        },
        "save" => Msg::Save,
        "unlink" => Msg::Unlink,
        "add-contact" => Msg::AddContact(attr("data-email")),
        "retry" => Msg::ItemChanged(display_language()),
        _ => return,
    };
    if dispatch(msg) {
        event.prevent_default();
    }
}

/// Calls the API with a fresh token: the answer's text, or the problem as the pane explains it.
async fn fetch(method: Method, path: &str, body: Option<String>) -> Result<String, Problem> {
    let api = APP
        .with(|cell| cell.borrow().as_ref().map(|r| r.api.clone()))
        .unwrap_or_default();
    let token = office::token().await.map_err(Problem::SignIn)?;
    let init = RequestInit::new();
    init.set_method(method.as_str());
    let headers = Headers::new().map_err(|_| Problem::Offline)?;
    let _ = headers.set("Authorization", &["Bearer ", &token].concat());
    let _ = headers.set("Accept", "application/json");
    if let Some(body) = &body {
        let _ = headers.set("Content-Type", "application/json");
        init.set_body(&JsValue::from_str(body));
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(&[api.as_str(), path].concat(), &init)
        .map_err(|_| Problem::Server("bad_request".to_owned()))?;
    let window = web_sys::window().ok_or(Problem::Offline)?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| Problem::Offline)?
        .dyn_into()
        .map_err(|_| Problem::Offline)?;
    let text = match response.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    if response.ok() {
        Ok(text)
    } else {
        Err(Problem::from_response(response.status(), &text))
    }
}
