//! The thin browser layer: holds the pane's state, wires DOM events of `taskpane.html` to the
//! logic modules, calls the server, and writes the results back into the page.

use std::cell::RefCell;

use serde_json::json;
use wasm_bindgen::{JsCast, prelude::*};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{
    Document, Element, Event, Headers, HtmlInputElement, KeyboardEvent, Request, RequestInit,
    Response,
};

use crate::{
    i18n::{Catalog, Lang},
    item::{ItemKind, MailItem, encode, is_automated_sender, split_name},
    model::{Entry, Item, Items, Kind, Suggestions},
    office,
    picker::{DEBOUNCE_MS, Fetch, Key, KeyOutcome, Picker},
    selection::Selection,
    status::{Problem, StatusView, Tone, entry_view},
};

const KINDS: [Kind; 4] = [
    Kind::Company,
    Kind::Person,
    Kind::Project,
    Kind::BusinessCase,
];
const POLL_MS: i32 = 700;
const POLL_TRIES: u32 = 40;

struct App {
    t: Catalog,
    api: String,
    // Bumped for every item shown; answers for an older item are dropped.
    generation: u64,
    item: Option<MailItem>,
    pickers: Vec<Picker>,
    selection: Selection,
    entry: Option<Entry>,
    unmatched: Vec<String>,
    problem: Option<Problem>,
    notice: Option<String>,
    busy: bool,
    loading: bool,
}

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
}

fn with<R>(f: impl FnOnce(&mut App) -> R) -> Option<R> {
    APP.with(|cell| cell.borrow_mut().as_mut().map(f))
}

fn document() -> Option<Document> {
    web_sys::window()?.document()
}

fn by_id(id: &str) -> Option<Element> {
    document()?.get_element_by_id(id)
}

fn set_html(id: &str, html: &str) {
    if let Some(el) = by_id(id) {
        el.set_inner_html(html);
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn picker_index(kind: Kind) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(0)
}

/// Starts the pane: `api_base` is the server's origin ("" for the page's own).
#[wasm_bindgen]
pub fn start(api_base: String) {
    let lang = Lang::from_display_language(&office::display_language());
    let t = Catalog::new(lang);
    translate_page(&t);
    APP.with(|cell| {
        *cell.borrow_mut() = Some(App {
            t,
            api: api_base.trim_end_matches('/').to_owned(),
            generation: 0,
            item: None,
            pickers: KINDS.iter().map(|k| Picker::new(*k)).collect(),
            selection: Selection::default(),
            entry: None,
            unmatched: Vec::new(),
            problem: None,
            notice: None,
            busy: false,
            loading: true,
        })
    });
    listen("input", on_input);
    listen("keydown", on_keydown);
    listen("focusin", on_focus);
    listen("click", on_click);
    let changed = Closure::<dyn FnMut()>::new(|| spawn_local(load_item()));
    office::on_item_changed(changed.as_ref().unchecked_ref());
    changed.forget();
    if let Some(body) = document().and_then(|d| d.body()) {
        let _ = body.set_attribute("data-ready", "1");
    }
    spawn_local(load_item());
}

fn translate_page(t: &Catalog) {
    let Some(doc) = document() else { return };
    if let Some(root) = doc.document_element() {
        let _ = root.set_attribute("lang", if t.lang() == Lang::Cs { "cs" } else { "en" });
    }
    for (selector, attr) in [
        ("[data-i18n]", None),
        ("[data-i18n-placeholder]", Some("placeholder")),
    ] {
        let Ok(nodes) = doc.query_selector_all(selector) else {
            continue;
        };
        for i in 0..nodes.length() {
            let Some(el) = nodes.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
                continue;
            };
            let key_attr = if attr.is_some() {
                "data-i18n-placeholder"
            } else {
                "data-i18n"
            };
            let key = el.get_attribute(key_attr).unwrap_or_default();
            match attr {
                Some(a) => {
                    let _ = el.set_attribute(a, &t.t(&key));
                }
                None => el.set_text_content(Some(&t.t(&key))),
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
    let Some((kind, input)) = target_kind(&event) else {
        return;
    };
    let Some(round) = with(|app| app.pickers[picker_index(kind)].input(&input.value())) else {
        return;
    };
    render();
    after(DEBOUNCE_MS, move || {
        if let Some(Some(fetch)) = with(|app| app.pickers[picker_index(kind)].debounced(round)) {
            spawn_local(lookup(kind, fetch));
        }
    });
}

fn on_focus(event: Event) {
    let Some((kind, _)) = target_kind(&event) else {
        return;
    };
    let fetch = with(|app| {
        for p in app
            .pickers
            .iter_mut()
            .filter(|p| p.kind != kind && p.is_open())
        {
            p.close();
        }
        app.pickers[picker_index(kind)].focus()
    });
    render();
    if let Some(fetch) = fetch {
        spawn_local(lookup(kind, fetch));
    }
}

fn on_keydown(event: Event) {
    let Some((kind, input)) = target_kind(&event) else {
        return;
    };
    let Some(key) = event
        .dyn_ref::<KeyboardEvent>()
        .and_then(|k| Key::from_dom(&k.key()))
    else {
        return;
    };
    let Some(outcome) = with(|app| app.pickers[picker_index(kind)].key(key)) else {
        return;
    };
    match outcome {
        KeyOutcome::Ignored => return,
        KeyOutcome::Picked(item) => {
            input.set_value("");
            picked(item);
        }
        KeyOutcome::Moved | KeyOutcome::Closed => {}
    }
    event.prevent_default();
    render();
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
    match attr("data-act").as_str() {
        "pick" => {
            let (Some(kind), Ok(index)) = (kind, attr("data-index").parse::<usize>()) else {
                return;
            };
            event.prevent_default();
            if let Some(Some(item)) = with(|app| app.pickers[picker_index(kind)].pick(index)) {
                if let Some(input) = by_id(&format!("q-{}", kind.as_str()))
                    .and_then(|e| e.dyn_into::<HtmlInputElement>().ok())
                {
                    input.set_value("");
                }
                picked(item);
            }
        }
        "remove" => {
            let (Some(kind), Ok(id)) = (kind, attr("data-id").parse::<i64>()) else {
                return;
            };
            with(|app| app.selection.remove(kind, id));
        }
        "save" => spawn_local(save()),
        "unlink" => spawn_local(unlink()),
        "add-contact" => spawn_local(add_contact(attr("data-email"))),
        "retry" => spawn_local(load_item()),
        _ => return,
    }
    render();
}

fn picked(item: Item) {
    let body = json!({"kind": item.kind, "id": item.id}).to_string();
    with(|app| app.selection.choose(item));
    spawn_local(async move {
        // Only ranks later lookups; a failure changes nothing the user sees.
        let _ = call("POST", "/api/addin/picks", Some(body)).await;
    });
}

async fn call(method: &str, path: &str, body: Option<String>) -> Result<String, Problem> {
    let api = with(|app| app.api.clone()).unwrap_or_default();
    let token = office::token().await.map_err(Problem::SignIn)?;
    let init = RequestInit::new();
    init.set_method(method);
    let headers = Headers::new().map_err(|_| Problem::Offline)?;
    let _ = headers.set("Authorization", &format!("Bearer {token}"));
    let _ = headers.set("Accept", "application/json");
    if let Some(body) = &body {
        let _ = headers.set("Content-Type", "application/json");
        init.set_body(&JsValue::from_str(body));
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(&format!("{api}{path}"), &init)
        .map_err(|_| Problem::Server(format!("bad request {path}")))?;
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

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Problem> {
    serde_json::from_str(text).map_err(|e| Problem::Server(e.to_string()))
}

fn current(generation: u64) -> bool {
    with(|app| app.generation == generation).unwrap_or(false)
}

async fn lookup(kind: Kind, fetch: Fetch) {
    let Some(filter) = with(|app| app.selection.firm_filter(kind)) else {
        return;
    };
    let mut path = format!(
        "/api/addin/lookup?kind={}&q={}&limit=8",
        kind.as_str(),
        encode(&fetch.query)
    );
    if let Some(company) = filter {
        path.push_str(&format!("&company_id={company}"));
    }
    if matches!(kind, Kind::Project | Kind::BusinessCase) {
        path.push_str("&open_only=true");
    }
    let result = call("GET", &path, None)
        .await
        .and_then(|t| parse::<Items>(&t));
    with(|app| match result {
        Ok(items) => {
            app.pickers[picker_index(kind)].answered(fetch.round, items.items);
            app.problem = None;
        }
        Err(problem) => {
            app.pickers[picker_index(kind)].failed(fetch.round);
            app.problem = Some(problem);
        }
    });
    render();
}

/// Follows Office's display language (read again for each item, so a change shows at once).
fn follow_display_language(app: &mut App) {
    let lang = Lang::from_display_language(&office::display_language());
    if lang != app.t.lang() {
        app.t = Catalog::new(lang);
        translate_page(&app.t);
    }
}

/// Empties the pickers' search fields: what was typed for one item means nothing for the next.
fn clear_search_fields() {
    for kind in KINDS {
        if let Some(input) = by_id(&format!("q-{}", kind.as_str()))
            .and_then(|el| el.dyn_into::<HtmlInputElement>().ok())
        {
            input.set_value("");
        }
    }
}

/// The ledger answer as the pane keeps it: `None` for an item never saved.
fn ledger_entry(text: &str) -> Result<Option<Entry>, Problem> {
    parse::<Entry>(text).map(|e| (e.status != "not_logged").then_some(e))
}

async fn load_item() {
    clear_search_fields();
    let Some(generation) = with(|app| {
        follow_display_language(app);
        app.generation += 1;
        app.item = None;
        app.entry = None;
        app.selection = Selection::default();
        app.unmatched.clear();
        app.problem = None;
        app.notice = None;
        app.loading = true;
        for p in &mut app.pickers {
            p.close();
        }
        app.generation
    }) else {
        return;
    };
    render();
    let item = office::read_item().await;
    if !current(generation) {
        return;
    }
    let item = match item {
        Ok(Some(item)) => item,
        Ok(None) => {
            with(|app| app.loading = false);
            return render();
        }
        Err(reason) => {
            with(|app| {
                app.loading = false;
                app.problem = Some(Problem::Server(reason));
            });
            return render();
        }
    };
    let addresses = item.addresses();
    let query = item.logged_query();
    with(|app| app.item = Some(item));
    render();

    let suggest = call(
        "POST",
        "/api/addin/suggest",
        Some(json!({ "addresses": addresses }).to_string()),
    )
    .await
    .and_then(|t| parse::<Suggestions>(&t));
    let logged = match query {
        Some(q) => call("GET", &format!("/api/addin/logged?{q}"), None)
            .await
            .and_then(|text| ledger_entry(&text)),
        None => Ok(None),
    };
    if !current(generation) {
        return;
    }
    with(|app| {
        app.loading = false;
        match suggest {
            Ok(s) => {
                app.selection = Selection::preselect(&s);
                app.unmatched = s.unmatched;
            }
            Err(problem) => app.problem = Some(problem),
        }
        match logged {
            Ok(entry) => {
                if let Some(e) = entry.as_ref().filter(|e| e.status != "unlinked") {
                    app.unmatched = e.unmatched.clone();
                }
                app.entry = entry;
            }
            Err(problem) => app.problem = Some(problem),
        }
    });
    render();
    poll_while_queued(generation).await;
}

async fn poll_while_queued(generation: u64) {
    for _ in 0..POLL_TRIES {
        let queued = with(|app| {
            app.entry
                .as_ref()
                .filter(|e| e.status == "queued")
                .map(|e| e.id.clone())
        });
        let Some(Some(id)) = queued else { return };
        sleep(POLL_MS).await;
        if !current(generation) {
            return;
        }
        let Some(Some(query)) = with(|app| app.item.as_ref().and_then(MailItem::logged_query))
        else {
            return;
        };
        let result = call("GET", &format!("/api/addin/logged?{query}"), None)
            .await
            .and_then(|t| ledger_entry(&t))
            .map(Option::unwrap_or_default);
        if !current(generation) {
            return;
        }
        if let Some(entry) = result.ok().filter(|e| e.id == id) {
            with(|app| app.entry = Some(entry));
            render();
        }
    }
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

async fn save() {
    let Some(Some((generation, path, body, method))) = with(|app| {
        let item = app.item.as_ref()?;
        if app.busy {
            return None;
        }
        app.busy = true;
        app.notice = None;
        let links = app.selection.links();
        Some(
            match app.entry.as_ref().filter(|e| e.status != "unlinked") {
                Some(e) => (
                    app.generation,
                    format!("/api/addin/logged/{}", encode(&e.id)),
                    json!({ "links": links }).to_string(),
                    "PUT",
                ),
                None => {
                    let (path, body) = item.save_request(&links);
                    (app.generation, path.to_owned(), body.to_string(), "POST")
                }
            },
        )
    }) else {
        return;
    };
    render();
    let result = call(method, &path, Some(body))
        .await
        .and_then(|t| parse::<Entry>(&t));
    if !current(generation) {
        with(|app| app.busy = false);
        return;
    }
    with(|app| {
        app.busy = false;
        match result {
            Ok(entry) => {
                app.unmatched = entry.unmatched.clone();
                app.entry = Some(entry);
                app.problem = None;
            }
            Err(problem) => app.problem = Some(problem),
        }
    });
    render();
    poll_while_queued(generation).await;
}

async fn unlink() {
    let Some(Some((generation, id))) = with(|app| {
        let id = app.entry.as_ref()?.id.clone();
        app.busy = true;
        Some((app.generation, id))
    }) else {
        return;
    };
    render();
    let result = call(
        "DELETE",
        &format!("/api/addin/logged/{}", encode(&id)),
        None,
    )
    .await
    .and_then(|t| parse::<Entry>(&t));
    with(|app| {
        app.busy = false;
        if app.generation != generation {
            return;
        }
        match result {
            Ok(entry) => app.entry = Some(entry),
            Err(problem) => app.problem = Some(problem),
        }
    });
    render();
}

async fn add_contact(email: String) {
    let Some(Some((generation, body))) = with(|app| {
        let item = app.item.as_ref()?;
        let (first, last) = split_name(&item.name_of(&email), &email);
        let company_id = app.selection.company.as_ref().map(|c| c.id);
        app.busy = true;
        Some((
            app.generation,
            json!({"first_name": first, "last_name": last, "email": email, "company_id": company_id}).to_string(),
        ))
    }) else {
        return;
    };
    render();
    let result = call("POST", "/api/addin/persons", Some(body))
        .await
        .and_then(|t| parse::<Item>(&t));
    with(|app| {
        app.busy = false;
        if app.generation != generation {
            return;
        }
        match result {
            Ok(person) => {
                app.unmatched.retain(|a| !a.eq_ignore_ascii_case(&email));
                app.notice = Some(app.t.t_with("contact-added", &[("name", &person.name)]));
                app.selection.choose(person);
                app.problem = None;
            }
            Err(problem) => app.problem = Some(problem),
        }
    });
    render();
}

fn render() {
    APP.with(|cell| {
        if let Some(app) = cell.borrow().as_ref() {
            render_app(app);
        }
    });
}

fn show(id: &str, visible: bool) {
    if let Some(el) = by_id(id) {
        let _ = if visible {
            el.remove_attribute("hidden")
        } else {
            el.set_attribute("hidden", "")
        };
    }
}

fn status_html(view: &StatusView, t: &Catalog) -> String {
    let mut html = format!(
        "<p class=\"msg {}\">{}</p>",
        view.tone.class(),
        escape(&view.text)
    );
    if let Some(link) = &view.link {
        html.push_str(&format!(
            "<a class=\"crm-link\" href=\"{}\" target=\"_blank\" rel=\"noopener\">{}</a> ",
            escape(link),
            escape(&t.t("open-in-crm"))
        ));
    }
    if view.can_unlink {
        html.push_str(&format!(
            "<button type=\"button\" class=\"link\" data-act=\"unlink\">{}</button>",
            escape(&t.t("unlink"))
        ));
    }
    html
}

fn render_app(app: &App) {
    let t = &app.t;
    let has_item = app.item.is_some();
    show("empty", !has_item && !app.loading && app.problem.is_none());
    show("main", has_item);
    show("loading", app.loading && !has_item);

    match &app.problem {
        Some(problem) => {
            let view = problem.view(t);
            set_html(
                "problem",
                &format!(
                    "<p class=\"msg error\">{}</p><button type=\"button\" data-act=\"retry\">{}</button>",
                    escape(&view.text),
                    escape(&t.t("retry"))
                ),
            );
            show("problem", true);
            if let Some(body) = document().and_then(|d| d.body()) {
                let _ = body.set_attribute("data-problem", &format!("{problem:?}"));
            }
        }
        None => {
            show("problem", false);
            if let Some(body) = document().and_then(|d| d.body()) {
                let _ = body.remove_attribute("data-problem");
            }
        }
    }

    let Some(item) = &app.item else { return };
    let kind = match item.kind {
        ItemKind::Email => t.t("item-email"),
        ItemKind::Meeting => t.t("item-meeting"),
    };
    set_html(
        "item",
        &format!(
            "<span class=\"kind\">{}</span> {}",
            escape(&kind),
            escape(&item.subject)
        ),
    );

    let mut view = entry_view(app.entry.as_ref(), t);
    if app.busy && !view.logged {
        view.text = t.t("saving");
    }
    let mut status = status_html(&view, t);
    if let Some(notice) = &app.notice {
        status.push_str(&format!(
            "<p class=\"msg {}\">{}</p>",
            Tone::Success.class(),
            escape(notice)
        ));
    }
    set_html("status", &status);
    if let Some(el) = by_id("status") {
        let state = app.entry.as_ref().map_or("none", |e| e.status.as_str());
        let _ = el.set_attribute("data-status", state);
    }

    for picker in &app.pickers {
        let k = picker.kind.as_str();
        let chips: String = app
            .selection
            .of_kind(picker.kind)
            .iter()
            .map(|i| {
                format!(
                    "<span class=\"chip\" data-id=\"{id}\">{name}<button type=\"button\" data-act=\"remove\" data-kind=\"{k}\" data-id=\"{id}\" aria-label=\"{rm}\">×</button></span>",
                    id = i.id,
                    name = escape(&i.name),
                    rm = escape(&t.t("remove")),
                )
            })
            .collect();
        set_html(&format!("chosen-{k}"), &chips);
        let list = if !picker.is_open() {
            String::new()
        } else if picker.results().is_empty() {
            let key = if picker.is_loading() {
                "searching"
            } else {
                "no-results"
            };
            format!("<li class=\"none\">{}</li>", escape(&t.t(key)))
        } else {
            picker
                .results()
                .iter()
                .enumerate()
                .map(|(n, i)| {
                    format!(
                        "<li role=\"option\" data-act=\"pick\" data-kind=\"{k}\" data-index=\"{n}\" aria-selected=\"{sel}\"><span class=\"name\">{name}</span><span class=\"sub\">{sub}</span></li>",
                        sel = picker.highlight() == Some(n),
                        name = escape(&i.name),
                        sub = escape(&i.subtitle),
                    )
                })
                .collect()
        };
        set_html(&format!("list-{k}"), &list);
        show(&format!("list-{k}"), picker.is_open());
    }

    let people: Vec<&String> = app
        .unmatched
        .iter()
        .filter(|a| !is_automated_sender(a))
        .collect();
    let unmatched: String = people
        .iter()
        .map(|a| {
            let name = item.name_of(a);
            let label = if name.is_empty() { a.to_string() } else { format!("{name} <{a}>") };
            format!(
                "<li><span>{}</span><button type=\"button\" data-act=\"add-contact\" data-email=\"{}\">{}</button></li>",
                escape(&label),
                escape(a),
                escape(&t.t("add-contact"))
            )
        })
        .collect();
    set_html("unmatched-list", &unmatched);
    show("unmatched", !people.is_empty());

    if let Some(button) = by_id("save") {
        let key = if view.logged {
            "update-links"
        } else if app.busy {
            "saving"
        } else if item.kind == ItemKind::Meeting {
            "save-meeting"
        } else {
            "save-email"
        };
        button.set_text_content(Some(&t.t(key)));
        let _ = if app.busy {
            button.set_attribute("disabled", "")
        } else {
            button.remove_attribute("disabled")
        };
    }
}
