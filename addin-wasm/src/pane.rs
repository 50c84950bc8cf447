//! The pane's controller as a state machine, free of the DOM, timers and HTTP: `update` takes the
//! state and one message (something the user or Office did, a timer, a server answer) and
//! returns the effects to carry out (read the item, call the API, wait, clear inputs, render).
//! Every item shown gets a new generation; answers and timers of an older one are dropped.

use crate::{
    i18n::{Catalog, Lang},
    item::{MailItem, encode, split_name},
    model::{
        Entry, EntryStatus, Item, Kind, LookupAnswer, PersonInput, Pick, Relink, SuggestRequest,
        Suggestions, json,
    },
    picker::{DEBOUNCE_MS, Fetch, Key, KeyOutcome, Picker},
    selection::Selection,
    status::Problem,
};

/// The pickers, in the page's order.
pub const KINDS: [Kind; 4] = [
    Kind::Company,
    Kind::Person,
    Kind::Project,
    Kind::BusinessCase,
];
/// How often a queued save is looked at again.
pub const POLL_MS: i32 = 700;
/// How many times, at most, after one save or one opening.
pub const POLL_TRIES: u32 = 40;

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// Office selected another item (or the pane started, or the user asked to retry), with
    /// Office's display language at that moment.
    ItemChanged(Lang),
    /// Office read the item of `generation` (`Ok(None)`: nothing selected).
    ItemRead(u64, Result<Option<Box<MailItem>>, String>),
    /// Text typed into a picker.
    Input(Kind, String),
    /// The debounce of a picker's round ran out.
    Debounced(Kind, u64),
    /// A picker's input got focus.
    Focus(Kind),
    /// A key pressed in a picker's input.
    Key(Kind, Key),
    /// A row of a picker's list was clicked.
    Pick(Kind, usize),
    /// A chosen item's × was clicked.
    Remove(Kind, i64),
    /// "Save" / "Update links".
    Save,
    /// "Unlink".
    Unlink,
    /// "Add as contact" for an address.
    AddContact(String),
    /// Time to look at a queued entry of `generation` again.
    PollDue(u64),
    /// The server answered a call made for `generation`: the body text, or the problem.
    Answered(u64, Call, Result<String, Problem>),
}

/// Which call an answer belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// A picker's lookup of one round.
    Lookup(Kind, u64),
    /// Suggestions for the item's addresses.
    Suggest,
    /// The item's ledger entry, on opening.
    Logged,
    /// The item's ledger entry, while entry `id` is queued.
    Poll(String),
    /// Saving (POST) or re-linking (PUT).
    Save,
    /// Unlinking.
    Unlink,
    /// Creating a contact for an address.
    AddContact(String),
    /// Recording a pick (only ranks later lookups: its answer changes nothing).
    Pick,
}

/// An HTTP method of the add-in API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

impl Method {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// Something for the runner to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Show the state (see `view`).
    Render,
    /// Translate the page's static texts (the language changed).
    Translate,
    /// Empty every picker's search field.
    ClearInputs,
    /// Empty one picker's search field.
    ClearInput(Kind),
    /// The key or click was handled: no browser default.
    Handled,
    /// Read the open item; answer with [`Msg::ItemRead`].
    ReadItem(u64),
    /// Call the API; answer with [`Msg::Answered`] carrying `generation` and `call`.
    Http {
        /// The generation it is for.
        generation: u64,
        /// What it is.
        call: Call,
        /// Method.
        method: Method,
        /// Path and query.
        path: String,
        /// JSON body.
        body: Option<String>,
    },
    /// Send `msg` back after `ms` milliseconds.
    After(i32, Msg),
}

/// The pane's state.
#[derive(Debug, Clone)]
pub struct Pane {
    /// The strings in the user's language.
    pub t: Catalog,
    /// Bumped for every item shown.
    pub generation: u64,
    /// The open item.
    pub item: Option<MailItem>,
    /// One picker per kind, in [`KINDS`] order.
    pub pickers: Vec<Picker>,
    /// What the item is linked to.
    pub selection: Selection,
    /// The item's ledger entry (`None`: never saved).
    pub entry: Option<Entry>,
    /// Addresses on the item no CRM person has.
    pub unmatched: Vec<String>,
    /// The last failure.
    pub problem: Option<Problem>,
    /// A one-off success message.
    pub notice: Option<String>,
    /// A save, unlink or new contact is under way.
    pub busy: bool,
    /// The item or its suggestions are being loaded.
    pub loading: bool,
    /// The opening's answers, applied together once both are in.
    suggested: Option<Result<Suggestions, Problem>>,
    logged: Option<Result<Option<Entry>, Problem>>,
    /// A poll is scheduled or in flight, and how many more may follow.
    polling: bool,
    polls_left: u32,
}

fn picker_index(kind: Kind) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(0)
}

fn parse<T: json::FromJson>(text: &str) -> Result<T, Problem> {
    json::from_str(text).map_err(|e| Problem::Server(e.0.to_owned()))
}

/// The ledger answer as the pane keeps it: `None` for an item never saved.
fn ledger_entry(text: &str) -> Result<Option<Entry>, Problem> {
    parse::<Entry>(text).map(|e| (e.status != EntryStatus::NotLogged).then_some(e))
}

impl Pane {
    /// The state before the first item, in `lang`.
    pub fn new(lang: Lang) -> Self {
        Self {
            t: Catalog::new(lang),
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
            suggested: None,
            logged: None,
            polling: false,
            polls_left: 0,
        }
    }

    /// The picker of `kind`.
    pub fn picker(&self, kind: Kind) -> &Picker {
        &self.pickers[picker_index(kind)]
    }

    fn picker_mut(&mut self, kind: Kind) -> &mut Picker {
        &mut self.pickers[picker_index(kind)]
    }

    fn http(&self, call: Call, method: Method, path: String, body: Option<String>) -> Effect {
        Effect::Http {
            generation: self.generation,
            call,
            method,
            path,
            body,
        }
    }

    /// Applies `msg` and says what to do next.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::ItemChanged(lang) => self.item_changed(lang),
            Msg::ItemRead(generation, _) | Msg::PollDue(generation)
                if generation != self.generation =>
            {
                Vec::new()
            }
            Msg::Answered(generation, _, _) if generation != self.generation => Vec::new(),
            Msg::ItemRead(_, result) => self.item_read(result),
            Msg::Input(kind, text) => {
                let round = self.picker_mut(kind).input(&text);
                vec![
                    Effect::Render,
                    Effect::After(DEBOUNCE_MS, Msg::Debounced(kind, round)),
                ]
            }
            Msg::Debounced(kind, round) => match self.picker(kind).debounced(round) {
                Some(fetch) => vec![self.lookup(kind, fetch)],
                None => Vec::new(),
            },
            Msg::Focus(kind) => {
                for p in self
                    .pickers
                    .iter_mut()
                    .filter(|p| p.kind != kind && p.is_open())
                {
                    p.close();
                }
                let fetch = self.picker_mut(kind).focus();
                vec![Effect::Render, self.lookup(kind, fetch)]
            }
            Msg::Key(kind, key) => match self.picker_mut(kind).key(key) {
                KeyOutcome::Ignored => Vec::new(),
                KeyOutcome::Picked(item) => {
                    let mut effects = vec![Effect::Handled, Effect::ClearInput(kind)];
                    effects.extend(self.picked(item));
                    effects.push(Effect::Render);
                    effects
                }
                KeyOutcome::Moved | KeyOutcome::Closed => vec![Effect::Handled, Effect::Render],
            },
            Msg::Pick(kind, index) => {
                let mut effects = vec![Effect::Handled];
                if let Some(item) = self.picker_mut(kind).pick(index) {
                    effects.push(Effect::ClearInput(kind));
                    effects.extend(self.picked(item));
                }
                effects.push(Effect::Render);
                effects
            }
            Msg::Remove(kind, id) => {
                self.selection.remove(kind, id);
                vec![Effect::Render]
            }
            Msg::Save => self.save(),
            Msg::Unlink => self.unlink(),
            Msg::AddContact(email) => self.add_contact(email),
            Msg::PollDue(_) => self.poll_due(),
            Msg::Answered(_, call, result) => self.answered(call, result),
        }
    }

    fn item_changed(&mut self, lang: Lang) -> Vec<Effect> {
        let mut effects = vec![Effect::ClearInputs];
        // Office's display language is read again for each item, so a change shows at once.
        if lang != self.t.lang() {
            self.t = Catalog::new(lang);
            effects.push(Effect::Translate);
        }
        self.generation += 1;
        self.item = None;
        self.entry = None;
        self.selection = Selection::default();
        self.unmatched.clear();
        self.problem = None;
        self.notice = None;
        self.busy = false;
        self.loading = true;
        self.suggested = None;
        self.logged = None;
        self.polling = false;
        for p in &mut self.pickers {
            p.close();
        }
        effects.push(Effect::Render);
        effects.push(Effect::ReadItem(self.generation));
        effects
    }

    fn item_read(&mut self, result: Result<Option<Box<MailItem>>, String>) -> Vec<Effect> {
        let item = match result {
            Ok(Some(item)) => *item,
            Ok(None) => {
                self.loading = false;
                return vec![Effect::Render];
            }
            Err(reason) => {
                self.loading = false;
                self.problem = Some(Problem::Server(reason));
                return vec![Effect::Render];
            }
        };
        let suggest = SuggestRequest {
            addresses: item.addresses(),
        };
        let mut effects = vec![
            Effect::Render,
            self.http(
                Call::Suggest,
                Method::Post,
                "/api/addin/suggest".to_owned(),
                Some(json::to_string(&suggest)),
            ),
        ];
        match item.logged_query() {
            Some(query) => effects.push(self.http(
                Call::Logged,
                Method::Get,
                ["/api/addin/logged?", &query].concat(),
                None,
            )),
            None => self.logged = Some(Ok(None)),
        }
        self.item = Some(item);
        effects
    }

    fn lookup(&self, kind: Kind, fetch: Fetch) -> Effect {
        let mut path = [
            "/api/addin/lookup?kind=",
            kind.as_str(),
            "&q=",
            &encode(&fetch.query),
            "&limit=8",
        ]
        .concat();
        if let Some(company) = self.selection.firm_filter(kind) {
            path.push_str("&company_id=");
            path.push_str(&json::to_string(&company));
        }
        if matches!(kind, Kind::Project | Kind::BusinessCase) {
            path.push_str("&open_only=true");
        }
        self.http(Call::Lookup(kind, fetch.round), Method::Get, path, None)
    }

    fn picked(&mut self, item: Item) -> Vec<Effect> {
        let body = json::to_string(&Pick {
            kind: item.kind,
            id: item.id,
        });
        self.selection.choose(item);
        vec![self.http(
            Call::Pick,
            Method::Post,
            "/api/addin/picks".to_owned(),
            Some(body),
        )]
    }

    fn save(&mut self) -> Vec<Effect> {
        let Some(item) = self.item.as_ref().filter(|_| !self.busy) else {
            return Vec::new();
        };
        let links = self.selection.links();
        // An unlinked entry is saved anew; any other one (even one deleted in the CRM) keeps
        // its entry and gets the links.
        let (method, path, body) = match self
            .entry
            .as_ref()
            .filter(|e| e.status != EntryStatus::Unlinked)
        {
            Some(e) => (
                Method::Put,
                ["/api/addin/logged/", &encode(&e.id)].concat(),
                json::to_string(&Relink { links }),
            ),
            None => {
                let (path, body) = item.save_request(&links);
                (Method::Post, path.to_owned(), body)
            }
        };
        self.busy = true;
        self.notice = None;
        vec![
            Effect::Render,
            self.http(Call::Save, method, path, Some(body)),
        ]
    }

    fn unlink(&mut self) -> Vec<Effect> {
        let Some(id) = self.entry.as_ref().map(|e| e.id.clone()) else {
            return Vec::new();
        };
        self.busy = true;
        vec![
            Effect::Render,
            self.http(
                Call::Unlink,
                Method::Delete,
                ["/api/addin/logged/", &encode(&id)].concat(),
                None,
            ),
        ]
    }

    fn add_contact(&mut self, email: String) -> Vec<Effect> {
        let Some(item) = &self.item else {
            return Vec::new();
        };
        let (first_name, last_name) = split_name(&item.name_of(&email), &email);
        let body = json::to_string(&PersonInput {
            first_name,
            last_name,
            email: email.clone(),
            company_id: self.selection.company.as_ref().map(|c| c.id),
        });
        self.busy = true;
        vec![
            Effect::Render,
            self.http(
                Call::AddContact(email),
                Method::Post,
                "/api/addin/persons".to_owned(),
                Some(body),
            ),
        ]
    }

    /// Starts looking at a queued entry again every [`POLL_MS`], at most [`POLL_TRIES`] times
    /// (once: a poll already under way just gets its tries back).
    fn start_polling(&mut self) -> Vec<Effect> {
        let queued = self
            .entry
            .as_ref()
            .is_some_and(|e| e.status == EntryStatus::Queued);
        self.polls_left = POLL_TRIES;
        if !queued || self.polling {
            return Vec::new();
        }
        self.polling = true;
        vec![Effect::After(POLL_MS, Msg::PollDue(self.generation))]
    }

    fn poll_due(&mut self) -> Vec<Effect> {
        let queued = self
            .entry
            .as_ref()
            .filter(|e| e.status == EntryStatus::Queued)
            .map(|e| e.id.clone());
        let (Some(id), Some(query)) = (queued, self.item.as_ref().and_then(MailItem::logged_query))
        else {
            self.polling = false;
            return Vec::new();
        };
        self.polls_left = self.polls_left.saturating_sub(1);
        vec![self.http(
            Call::Poll(id),
            Method::Get,
            ["/api/addin/logged?", &query].concat(),
            None,
        )]
    }

    fn answered(&mut self, call: Call, result: Result<String, Problem>) -> Vec<Effect> {
        match call {
            Call::Lookup(kind, round) => {
                match result.and_then(|t| parse::<LookupAnswer>(&t)) {
                    Ok(answer) => {
                        self.picker_mut(kind).answered(round, answer.items);
                        self.problem = None;
                    }
                    Err(problem) => {
                        self.picker_mut(kind).failed(round);
                        self.problem = Some(problem);
                    }
                }
                vec![Effect::Render]
            }
            Call::Suggest => {
                self.suggested = Some(result.and_then(|t| parse(&t)));
                self.opened()
            }
            Call::Logged => {
                self.logged = Some(result.and_then(|t| ledger_entry(&t)));
                self.opened()
            }
            Call::Poll(id) => {
                let entry = result
                    .and_then(|t| ledger_entry(&t))
                    .map(Option::unwrap_or_default);
                let mut effects = Vec::new();
                if let Some(entry) = entry.ok().filter(|e| e.id == id) {
                    self.entry = Some(entry);
                    effects.push(Effect::Render);
                }
                let queued = self
                    .entry
                    .as_ref()
                    .is_some_and(|e| e.status == EntryStatus::Queued);
                if queued && self.polls_left > 0 {
                    effects.push(Effect::After(POLL_MS, Msg::PollDue(self.generation)));
                } else {
                    self.polling = false;
                }
                effects
            }
            Call::Save => {
                self.busy = false;
                match result.and_then(|t| parse::<Entry>(&t)) {
                    Ok(entry) => {
                        self.unmatched = entry.unmatched.clone();
                        self.entry = Some(entry);
                        self.problem = None;
                    }
                    Err(problem) => self.problem = Some(problem),
                }
                let mut effects = vec![Effect::Render];
                effects.extend(self.start_polling());
                effects
            }
            Call::Unlink => {
                self.busy = false;
                match result.and_then(|t| parse::<Entry>(&t)) {
                    Ok(entry) => self.entry = Some(entry),
                    Err(problem) => self.problem = Some(problem),
                }
                vec![Effect::Render]
            }
            Call::AddContact(email) => {
                self.busy = false;
                match result.and_then(|t| parse::<Item>(&t)) {
                    Ok(person) => {
                        self.unmatched.retain(|a| !a.eq_ignore_ascii_case(&email));
                        self.notice =
                            Some(self.t.t_with("contact-added", &[("name", &person.name)]));
                        self.selection.choose(person);
                        self.problem = None;
                    }
                    Err(problem) => self.problem = Some(problem),
                }
                vec![Effect::Render]
            }
            Call::Pick => Vec::new(),
        }
    }

    /// Both answers of the opening are in: preselect from the suggestions, show the entry.
    fn opened(&mut self) -> Vec<Effect> {
        if self.suggested.is_none() || self.logged.is_none() {
            return Vec::new();
        }
        self.loading = false;
        match self.suggested.take() {
            Some(Ok(s)) => {
                self.selection = Selection::preselect(&s);
                self.unmatched = s.unmatched;
            }
            Some(Err(problem)) => self.problem = Some(problem),
            None => {}
        }
        match self.logged.take() {
            Some(Ok(entry)) => {
                if let Some(e) = entry.as_ref().filter(|e| e.status != EntryStatus::Unlinked) {
                    self.unmatched = e.unmatched.clone();
                }
                self.entry = entry;
            }
            Some(Err(problem)) => self.problem = Some(problem),
            None => {}
        }
        let mut effects = vec![Effect::Render];
        effects.extend(self.start_polling());
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::{Address, ItemKind};

    fn email() -> MailItem {
        MailItem {
            mailbox: "me@firma.cz".into(),
            subject: "Nabídka".into(),
            internet_message_id: "<m1@x>".into(),
            from: Some(Address {
                name: "Jan Novák".into(),
                email: "jan@vitkovice.cz".into(),
            }),
            to: vec![Address {
                name: "Karel Nový".into(),
                email: "karel.novy@vitkovice.cz".into(),
            }],
            ..Default::default()
        }
    }

    fn item(kind: Kind, id: i64, company_id: Option<i64>) -> Item {
        Item {
            kind,
            id,
            name: ["Item ", &id.to_string()].concat(),
            subtitle: String::new(),
            email: None,
            company_id,
            open: true,
            security_level: None,
        }
    }

    fn entry(id: &str, status: EntryStatus) -> Entry {
        Entry {
            id: id.into(),
            status,
            ..Default::default()
        }
    }

    /// The HTTP calls among `effects`: (generation, call, method, path, body).
    fn calls(effects: &[Effect]) -> Vec<(u64, Call, Method, String, Option<String>)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Http {
                    generation,
                    call,
                    method,
                    path,
                    body,
                } => Some((
                    *generation,
                    call.clone(),
                    *method,
                    path.clone(),
                    body.clone(),
                )),
                _ => None,
            })
            .collect()
    }

    fn one_call(effects: &[Effect]) -> (u64, Call, Method, String, Option<String>) {
        let mut all = calls(effects);
        assert_eq!(all.len(), 1, "{effects:?}");
        all.remove(0)
    }

    /// A pane showing `email()`, its opening answered with `suggestions` and `logged`.
    fn opened(suggestions: &Suggestions, logged: &Entry) -> Pane {
        let mut pane = Pane::new(Lang::En);
        let effects = pane.update(Msg::ItemChanged(Lang::En));
        assert_eq!(effects.last(), Some(&Effect::ReadItem(1)));
        let effects = pane.update(Msg::ItemRead(1, Ok(Some(Box::new(email())))));
        let requests = calls(&effects);
        assert_eq!(
            requests.len(),
            2,
            "suggest and logged at once: {requests:?}"
        );
        assert_eq!(requests[0].1, Call::Suggest);
        assert_eq!(
            requests[0].4.as_deref(),
            Some(r#"{"addresses":["jan@vitkovice.cz","karel.novy@vitkovice.cz"]}"#)
        );
        assert_eq!(
            requests[1].3,
            "/api/addin/logged?internet_message_id=%3Cm1%40x%3E"
        );
        pane.update(Msg::Answered(
            1,
            Call::Suggest,
            Ok(json::to_string(suggestions)),
        ));
        pane.update(Msg::Answered(1, Call::Logged, Ok(json::to_string(logged))));
        pane
    }

    #[test]
    fn a_new_item_is_read_then_preselected_from_suggestions_once_both_answers_are_in() {
        let mut pane = Pane::new(Lang::En);
        let effects = pane.update(Msg::ItemChanged(Lang::En));
        assert!(effects.contains(&Effect::ClearInputs) && pane.loading);
        pane.update(Msg::ItemRead(1, Ok(Some(Box::new(email())))));
        let s = Suggestions {
            persons: vec![item(Kind::Person, 10, Some(1))],
            companies: vec![item(Kind::Company, 1, None)],
            unmatched: vec!["karel.novy@vitkovice.cz".into()],
            ..Default::default()
        };
        pane.update(Msg::Answered(1, Call::Suggest, Ok(json::to_string(&s))));
        assert!(
            pane.loading && pane.selection.company.is_none(),
            "waits for the ledger"
        );
        let effects = pane.update(Msg::Answered(
            1,
            Call::Logged,
            Ok(json::to_string(&Entry::not_logged())),
        ));
        assert_eq!(effects, vec![Effect::Render]);
        assert!(!pane.loading);
        assert_eq!(pane.selection.links().company_id, Some(1));
        assert_eq!(pane.selection.links().person_ids, vec![10]);
        assert_eq!(pane.entry, None);
        assert_eq!(pane.unmatched, vec!["karel.novy@vitkovice.cz"]);
    }

    #[test]
    fn answers_and_timers_for_the_previous_item_are_dropped() {
        let mut pane = opened(&Suggestions::default(), &Entry::not_logged());
        pane.update(Msg::ItemChanged(Lang::En));
        assert_eq!(pane.generation, 2);
        let stale = entry("old", EntryStatus::Saved);
        assert!(
            pane.update(Msg::Answered(1, Call::Logged, Ok(json::to_string(&stale))))
                .is_empty()
        );
        assert!(
            pane.update(Msg::ItemRead(1, Ok(Some(Box::new(email())))))
                .is_empty()
        );
        assert!(pane.update(Msg::PollDue(1)).is_empty());
        assert_eq!((pane.entry.as_ref(), pane.item.as_ref()), (None, None));
        // The current item's answers still count.
        pane.update(Msg::ItemRead(2, Ok(Some(Box::new(email())))));
        assert!(pane.item.is_some());
    }

    #[test]
    fn the_display_language_is_followed_on_every_item_change() {
        let mut pane = Pane::new(Lang::En);
        assert!(
            !pane
                .update(Msg::ItemChanged(Lang::En))
                .contains(&Effect::Translate)
        );
        assert!(
            pane.update(Msg::ItemChanged(Lang::Cs))
                .contains(&Effect::Translate)
        );
        assert_eq!(pane.t.lang(), Lang::Cs);
    }

    #[test]
    fn no_item_selected_or_an_unreadable_item_ends_loading() {
        let mut pane = Pane::new(Lang::En);
        pane.update(Msg::ItemChanged(Lang::En));
        pane.update(Msg::ItemRead(1, Ok(None)));
        assert!(!pane.loading && pane.item.is_none() && pane.problem.is_none());
        pane.update(Msg::ItemChanged(Lang::En));
        pane.update(Msg::ItemRead(2, Err("Office failed".into())));
        assert_eq!(pane.problem, Some(Problem::Server("Office failed".into())));
    }

    #[test]
    fn an_item_never_saved_is_saved_with_post_and_a_saved_one_relinked_with_put() {
        let mut pane = opened(&Suggestions::default(), &Entry::not_logged());
        pane.selection.choose(item(Kind::Company, 3, None));
        let (_, call, method, path, body) = one_call(&pane.update(Msg::Save));
        assert_eq!(
            (call, method, path.as_str()),
            (Call::Save, Method::Post, "/api/addin/emails")
        );
        let body = json::parse(&body.unwrap()).unwrap();
        assert_eq!(body.get("internet_message_id").as_str(), Some("<m1@x>"));
        assert_eq!(
            body.get("links").get("company_id"),
            &json::Value::Number("3".into())
        );
        assert!(pane.busy);
        assert!(
            pane.update(Msg::Save).is_empty(),
            "no second save while one is under way"
        );

        let saved = Entry {
            kind: Some(crate::model::ActivityKind::Email),
            ..entry("e/1", EntryStatus::Saved)
        };
        pane.update(Msg::Answered(1, Call::Save, Ok(json::to_string(&saved))));
        assert!(!pane.busy);
        assert_eq!(
            pane.entry.as_ref().map(|e| e.status),
            Some(EntryStatus::Saved)
        );
        let (_, _, method, path, body) = one_call(&pane.update(Msg::Save));
        assert_eq!(
            (method, path.as_str()),
            (Method::Put, "/api/addin/logged/e%2F1")
        );
        assert_eq!(
            body.as_deref(),
            Some(
                r#"{"links":{"company_id":3,"person_ids":[],"project_id":null,"business_case_id":null}}"#
            )
        );
    }

    #[test]
    fn an_unlinked_entry_is_saved_anew_with_post_and_a_meeting_to_its_own_path() {
        let mut pane = opened(&Suggestions::default(), &entry("e1", EntryStatus::Unlinked));
        let (_, _, method, path, _) = one_call(&pane.update(Msg::Save));
        assert_eq!((method, path.as_str()), (Method::Post, "/api/addin/emails"));

        let mut pane = opened(&Suggestions::default(), &Entry::not_logged());
        if let Some(item) = pane.item.as_mut() {
            item.kind = ItemKind::Meeting;
            item.ical_uid = "uid-1".into();
        }
        let (_, _, method, path, _) = one_call(&pane.update(Msg::Save));
        assert_eq!(
            (method, path.as_str()),
            (Method::Post, "/api/addin/meetings")
        );
    }

    #[test]
    fn unlinking_deletes_the_entry_and_shows_the_answer() {
        let mut pane = opened(&Suggestions::default(), &entry("e1", EntryStatus::Saved));
        let (_, call, method, path, body) = one_call(&pane.update(Msg::Unlink));
        assert_eq!(
            (call, method, path.as_str(), body),
            (Call::Unlink, Method::Delete, "/api/addin/logged/e1", None)
        );
        let unlinked = entry("e1", EntryStatus::Unlinked);
        pane.update(Msg::Answered(
            1,
            Call::Unlink,
            Ok(json::to_string(&unlinked)),
        ));
        assert_eq!(pane.entry, Some(unlinked));
        assert!(!pane.busy);
        let mut never = opened(&Suggestions::default(), &Entry::not_logged());
        assert!(never.update(Msg::Unlink).is_empty(), "nothing to unlink");
    }

    #[test]
    fn a_queued_entry_is_polled_until_it_is_saved() {
        let mut pane = opened(&Suggestions::default(), &Entry::not_logged());
        pane.update(Msg::Save);
        let effects = pane.update(Msg::Answered(
            1,
            Call::Save,
            Ok(json::to_string(&entry("e1", EntryStatus::Queued))),
        ));
        assert!(
            effects.contains(&Effect::After(POLL_MS, Msg::PollDue(1))),
            "{effects:?}"
        );
        let (_, call, method, path, _) = one_call(&pane.update(Msg::PollDue(1)));
        assert_eq!(
            (call, method, path.as_str()),
            (
                Call::Poll("e1".into()),
                Method::Get,
                "/api/addin/logged?internet_message_id=%3Cm1%40x%3E"
            )
        );
        // Still queued: poll again; an answer about another entry changes nothing.
        let effects = pane.update(Msg::Answered(
            1,
            Call::Poll("e1".into()),
            Ok(json::to_string(&entry("other", EntryStatus::Saved))),
        ));
        assert_eq!(effects, vec![Effect::After(POLL_MS, Msg::PollDue(1))]);
        pane.update(Msg::PollDue(1));
        let effects = pane.update(Msg::Answered(
            1,
            Call::Poll("e1".into()),
            Ok(json::to_string(&entry("e1", EntryStatus::Saved))),
        ));
        assert_eq!(effects, vec![Effect::Render], "saved: polling stops");
        assert_eq!(
            pane.entry.as_ref().map(|e| e.status),
            Some(EntryStatus::Saved)
        );
    }

    #[test]
    fn polling_gives_up_after_its_tries_and_never_runs_twice_at_once() {
        let mut pane = opened(&Suggestions::default(), &entry("e1", EntryStatus::Queued));
        // The opening started polling; a save answer does not start a second chain.
        pane.update(Msg::Save);
        let effects = pane.update(Msg::Answered(
            1,
            Call::Save,
            Ok(json::to_string(&entry("e1", EntryStatus::Queued))),
        ));
        assert!(
            !effects.iter().any(|e| matches!(e, Effect::After(..))),
            "{effects:?}"
        );
        let mut fetches = 0;
        let mut due = true;
        while due {
            assert!(!calls(&pane.update(Msg::PollDue(1))).is_empty());
            fetches += 1;
            let effects = pane.update(Msg::Answered(
                1,
                Call::Poll("e1".into()),
                Err(Problem::Offline),
            ));
            due = effects.contains(&Effect::After(POLL_MS, Msg::PollDue(1)));
        }
        assert_eq!(fetches, POLL_TRIES);
    }

    #[test]
    fn typing_looks_up_after_the_debounce_narrowed_to_the_chosen_firm() {
        let mut pane = opened(&Suggestions::default(), &Entry::not_logged());
        pane.selection.choose(item(Kind::Company, 7, None));
        pane.update(Msg::Input(Kind::Project, "serv".into()));
        let round = pane.picker(Kind::Project).round();
        let effects = pane.update(Msg::Input(Kind::Project, "servis".into()));
        assert_eq!(
            effects[1],
            Effect::After(DEBOUNCE_MS, Msg::Debounced(Kind::Project, round + 1))
        );
        assert!(
            pane.update(Msg::Debounced(Kind::Project, round)).is_empty(),
            "typing went on"
        );
        let (_, call, _, path, _) =
            one_call(&pane.update(Msg::Debounced(Kind::Project, round + 1)));
        assert_eq!(call, Call::Lookup(Kind::Project, round + 1));
        assert_eq!(
            path,
            "/api/addin/lookup?kind=project&q=servis&limit=8&company_id=7&open_only=true"
        );
        let answer = LookupAnswer {
            items: vec![item(Kind::Project, 5, Some(7))],
        };
        pane.update(Msg::Answered(
            1,
            Call::Lookup(Kind::Project, round + 1),
            Ok(json::to_string(&answer)),
        ));
        assert_eq!(pane.picker(Kind::Project).results().len(), 1);
    }

    #[test]
    fn a_stale_lookup_answer_does_not_replace_the_current_list() {
        let mut pane = opened(&Suggestions::default(), &Entry::not_logged());
        pane.update(Msg::Input(Kind::Company, "v".into()));
        let old_round = pane.picker(Kind::Company).round();
        pane.update(Msg::Input(Kind::Company, "vitk".into()));
        let old = LookupAnswer {
            items: vec![item(Kind::Company, 1, None)],
        };
        pane.update(Msg::Answered(
            1,
            Call::Lookup(Kind::Company, old_round),
            Ok(json::to_string(&old)),
        ));
        assert!(pane.picker(Kind::Company).results().is_empty());
        assert!(pane.picker(Kind::Company).is_loading());
    }

    #[test]
    fn focus_closes_the_other_lists_and_picking_records_the_pick() {
        let mut pane = opened(&Suggestions::default(), &Entry::not_logged());
        pane.update(Msg::Focus(Kind::Company));
        let effects = pane.update(Msg::Focus(Kind::Person));
        assert!(!pane.picker(Kind::Company).is_open() && pane.picker(Kind::Person).is_open());
        let (_, call, _, path, _) = one_call(&effects);
        let round = pane.picker(Kind::Person).round();
        assert_eq!(call, Call::Lookup(Kind::Person, round));
        assert_eq!(path, "/api/addin/lookup?kind=person&q=&limit=8");
        let answer = LookupAnswer {
            items: vec![item(Kind::Person, 4, None), item(Kind::Person, 5, None)],
        };
        pane.update(Msg::Answered(
            1,
            Call::Lookup(Kind::Person, round),
            Ok(json::to_string(&answer)),
        ));
        assert_eq!(
            pane.update(Msg::Key(Kind::Person, Key::Down))[0],
            Effect::Handled
        );
        let effects = pane.update(Msg::Key(Kind::Person, Key::Enter));
        assert!(effects.contains(&Effect::ClearInput(Kind::Person)));
        let (_, call, method, path, body) = one_call(&effects);
        assert_eq!(
            (call, method, path.as_str()),
            (Call::Pick, Method::Post, "/api/addin/picks")
        );
        assert_eq!(body.as_deref(), Some(r#"{"kind":"person","id":5}"#));
        assert_eq!(pane.selection.links().person_ids, vec![5]);
        assert!(
            pane.update(Msg::Key(Kind::Person, Key::Enter)).is_empty(),
            "closed: the browser's"
        );
        pane.update(Msg::Remove(Kind::Person, 5));
        assert!(pane.selection.is_empty());
    }

    #[test]
    fn adding_a_contact_creates_the_person_for_the_firm_and_chooses_them() {
        let mut pane = opened(
            &Suggestions {
                companies: vec![item(Kind::Company, 1, None)],
                unmatched: vec!["karel.novy@vitkovice.cz".into()],
                ..Default::default()
            },
            &Entry::not_logged(),
        );
        let email = "karel.novy@vitkovice.cz".to_owned();
        let (_, call, _, path, body) = one_call(&pane.update(Msg::AddContact(email.clone())));
        assert_eq!(
            (call, path.as_str()),
            (Call::AddContact(email.clone()), "/api/addin/persons")
        );
        assert_eq!(
            body.as_deref(),
            Some(
                r#"{"first_name":"Karel","last_name":"Nový","email":"karel.novy@vitkovice.cz","company_id":1}"#
            )
        );
        let person = Item {
            name: "Karel Nový".into(),
            ..item(Kind::Person, 11, Some(1))
        };
        pane.update(Msg::Answered(
            1,
            Call::AddContact(email),
            Ok(json::to_string(&person)),
        ));
        assert!(pane.unmatched.is_empty() && !pane.busy);
        assert_eq!(pane.selection.links().person_ids, vec![11]);
        assert_eq!(
            pane.notice.as_deref(),
            Some("Karel Nový was added to the CRM.")
        );
    }

    #[test]
    fn failed_calls_become_the_pane_problem_and_a_later_success_clears_it() {
        let mut pane = opened(&Suggestions::default(), &Entry::not_logged());
        pane.update(Msg::Save);
        pane.update(Msg::Answered(1, Call::Save, Err(Problem::NotRegistered)));
        assert_eq!(pane.problem, Some(Problem::NotRegistered));
        assert!(!pane.busy);
        pane.update(Msg::Save);
        pane.update(Msg::Answered(1, Call::Save, Ok("not json".into())));
        assert!(matches!(pane.problem, Some(Problem::Server(_))));
        pane.update(Msg::Save);
        pane.update(Msg::Answered(
            1,
            Call::Save,
            Ok(json::to_string(&entry("e1", EntryStatus::Saved))),
        ));
        assert_eq!(pane.problem, None);
    }
}
