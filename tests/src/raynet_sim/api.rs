//! The simulated API: routing below `/api/v2/`, list filters and paging, create/update/delete
//! for companies, persons, business cases, projects and the six activity types (e-mail, meeting,
//! event, task, phone call, letter), external ids, user accounts and webhooks, and the JSON of
//! each record with every field the spec's examples show.

use axum::http::{Method, StatusCode};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::{
    Answer, Sim,
    data::{Activity, Company, Deal, Generated, Participant, Person, SimUser, Webhook},
    message,
};

/// Records of one kind in id order.
pub(crate) struct Table<T> {
    rows: Vec<T>,
    next_id: i64,
}

pub(crate) trait Row {
    fn id(&self) -> i64;
}

impl Row for Company {
    fn id(&self) -> i64 {
        self.id
    }
}
impl Row for Person {
    fn id(&self) -> i64 {
        self.id
    }
}
impl Row for Deal {
    fn id(&self) -> i64 {
        self.id
    }
}
impl Row for Activity {
    fn id(&self) -> i64 {
        self.id
    }
}

impl<T: Row> Table<T> {
    fn new(rows: Vec<T>) -> Self {
        let next_id = rows.last().map_or(1, |r| r.id() + 1);
        Self { rows, next_id }
    }

    fn index(&self, id: i64) -> Option<usize> {
        self.rows.binary_search_by_key(&id, Row::id).ok()
    }

    pub(crate) fn get(&self, id: i64) -> Option<&T> {
        self.index(id).map(|i| &self.rows[i])
    }

    fn get_mut(&mut self, id: i64) -> Option<&mut T> {
        self.index(id).map(move |i| &mut self.rows[i])
    }

    fn take_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn push(&mut self, row: T) {
        self.rows.push(row);
    }

    fn remove(&mut self, id: i64) -> Option<T> {
        self.index(id).map(|i| self.rows.remove(i))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.rows.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }
}

/// Everything the CRM stores.
pub(crate) struct Db {
    pub(crate) companies: Table<Company>,
    pub(crate) persons: Table<Person>,
    pub(crate) business_cases: Table<Deal>,
    pub(crate) projects: Table<Deal>,
    pub(crate) emails: Table<Activity>,
    pub(crate) meetings: Table<Activity>,
    pub(crate) events: Table<Activity>,
    pub(crate) tasks: Table<Activity>,
    pub(crate) phone_calls: Table<Activity>,
    pub(crate) letters: Table<Activity>,
    pub(crate) users: Vec<SimUser>,
    pub(crate) webhooks: Vec<Webhook>,
    next_participant: i64,
    /// Security levels (`/securityLevel/`): id and name; 1 "Sdílená" (shared) always exists.
    pub(crate) levels: Vec<(i64, String)>,
    /// Records whose security level is not the shared one.
    record_levels: std::collections::HashMap<(Ent, i64), i64>,
    /// User accounts limited to some levels (the others see every level).
    user_levels: std::collections::HashMap<i64, Vec<i64>>,
}

/// The webhook entity name of an API entity path segment such as `company`.
pub(crate) fn entity_name_of(entity: &str) -> Option<&'static str> {
    Ent::parse(entity).map(Ent::entity_name)
}

/// Who makes a change, for webhook events and permissions.
pub(crate) struct Actor {
    pub(crate) username: String,
    pub(crate) source: Value,
    pub(crate) role: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Ent {
    Company,
    Person,
    BusinessCase,
    Project,
    Email,
    Meeting,
    Event,
    Task,
    PhoneCall,
    Letter,
}

impl Ent {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "company" => Self::Company,
            "person" => Self::Person,
            "businessCase" => Self::BusinessCase,
            "project" => Self::Project,
            "email" => Self::Email,
            "meeting" => Self::Meeting,
            "event" => Self::Event,
            "task" => Self::Task,
            "phoneCall" => Self::PhoneCall,
            "letter" => Self::Letter,
            _ => return None,
        })
    }

    /// The name webhooks carry.
    fn entity_name(self) -> &'static str {
        match self {
            Self::Company => "Company",
            Self::Person => "Person",
            Self::BusinessCase => "BusinessCase",
            Self::Project => "Project",
            Self::Email => "Email",
            Self::Meeting => "Meeting",
            Self::Event => "Event",
            Self::Task => "Task",
            Self::PhoneCall => "PhoneCall",
            Self::Letter => "Letter",
        }
    }

    /// The API path segment (and the `kind` of stored activities).
    fn path(self) -> &'static str {
        match self {
            Self::Company => "company",
            Self::Person => "person",
            Self::BusinessCase => "businessCase",
            Self::Project => "project",
            Self::Email => "email",
            Self::Meeting => "meeting",
            Self::Event => "event",
            Self::Task => "task",
            Self::PhoneCall => "phoneCall",
            Self::Letter => "letter",
        }
    }

    fn is_activity(self) -> bool {
        matches!(
            self,
            Self::Email | Self::Meeting | Self::Event | Self::Task | Self::PhoneCall | Self::Letter
        )
    }

    fn filters(self) -> &'static [&'static str] {
        const ROW: [&str; 5] = [
            "id",
            "rowInfo.createdAt",
            "rowInfo.updatedAt",
            "rowInfo.lastModifiedAt",
            "rowInfo.rowAccess",
        ];
        match self {
            Self::Company => &[
                "id",
                "rowInfo.createdAt",
                "rowInfo.updatedAt",
                "rowInfo.lastModifiedAt",
                "rowInfo.rowAccess",
                "name",
                "regNumber",
                "primaryAddress-contactInfo.email",
            ],
            Self::Person => &[
                "id",
                "rowInfo.createdAt",
                "rowInfo.updatedAt",
                "rowInfo.lastModifiedAt",
                "rowInfo.rowAccess",
                "firstName",
                "lastName",
                "contactInfo.email",
                "contactInfo.email2",
                "primaryRelationship-company-id",
            ],
            Self::BusinessCase | Self::Project => &[
                "id",
                "rowInfo.createdAt",
                "rowInfo.updatedAt",
                "rowInfo.lastModifiedAt",
                "rowInfo.rowAccess",
                "code",
                "name",
                "company",
                "status",
            ],
            Self::Task => &[
                "id",
                "rowInfo.createdAt",
                "rowInfo.updatedAt",
                "rowInfo.lastModifiedAt",
                "title",
                "owner-id",
                "status",
                "scheduledFrom",
                "scheduledTill",
                "completed",
                "deadline",
                "personFilter",
            ],
            Self::Email | Self::Meeting | Self::Event | Self::PhoneCall | Self::Letter => {
                let _ = ROW;
                &[
                    "id",
                    "rowInfo.createdAt",
                    "rowInfo.updatedAt",
                    "rowInfo.lastModifiedAt",
                    "title",
                    "owner-id",
                    "status",
                    "scheduledFrom",
                    "scheduledTill",
                    "completed",
                    "personFilter",
                ]
            }
        }
    }
}

impl Db {
    pub(crate) fn new(g: Generated) -> Self {
        Self {
            companies: Table::new(g.companies),
            persons: Table::new(g.persons),
            business_cases: Table::new(g.business_cases),
            projects: Table::new(g.projects),
            emails: Table::new(Vec::new()),
            meetings: Table::new(Vec::new()),
            events: Table::new(Vec::new()),
            tasks: Table::new(Vec::new()),
            phone_calls: Table::new(Vec::new()),
            letters: Table::new(Vec::new()),
            users: Vec::new(),
            webhooks: Vec::new(),
            next_participant: 1,
            levels: vec![(1, "Sdílená".into())],
            record_levels: std::collections::HashMap::new(),
            user_levels: std::collections::HashMap::new(),
        }
    }

    fn level_of(&self, e: Ent, id: i64) -> i64 {
        self.record_levels.get(&(e, id)).copied().unwrap_or(1)
    }

    fn level_ref(&self, e: Ent, id: i64) -> Value {
        self.level_ref_of(self.level_of(e, id))
    }

    fn level_ref_of(&self, level: i64) -> Value {
        let name = self
            .levels
            .iter()
            .find(|(l, _)| *l == level)
            .map_or("", |(_, n)| n.as_str());
        json!({"id": level, "name": name})
    }

    /// The levels `user` may open (every level unless limited).
    fn levels_of(&self, user: &SimUser) -> Vec<i64> {
        self.user_levels
            .get(&user.account_id)
            .cloned()
            .unwrap_or_else(|| self.levels.iter().map(|(l, _)| *l).collect())
    }

    /// Whether `user` may open record `id` of `e`.
    fn may_open(&self, user: &SimUser, e: Ent, id: i64) -> bool {
        self.user_levels
            .get(&user.account_id)
            .is_none_or(|levels| levels.contains(&self.level_of(e, id)))
    }

    /// Adds a security level; returns its id.
    pub(crate) fn add_level(&mut self, name: &str) -> i64 {
        let id = self.levels.iter().map(|(l, _)| *l).max().unwrap_or(0) + 1;
        self.levels.push((id, name.into()));
        id
    }

    /// Puts a record of `entity` on `level`; `false` for an unknown entity.
    pub(crate) fn set_record_level(&mut self, entity: &str, id: i64, level: i64) -> bool {
        let Some(e) = Ent::parse(entity) else {
            return false;
        };
        self.record_levels.insert((e, id), level);
        true
    }

    /// Limits a user account to `levels`.
    pub(crate) fn set_user_levels(&mut self, account_id: i64, levels: Vec<i64>) {
        self.user_levels.insert(account_id, levels);
    }

    pub(crate) fn add_user(
        &mut self,
        username: &str,
        role: &str,
        full_name: &str,
        salt: u64,
    ) -> SimUser {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(salt ^ (self.users.len() as u64 + 1));
        let (first, last) = full_name.split_once(' ').unwrap_or(("", full_name));
        let person_id = self.persons.take_id();
        let now = super::now_ms();
        self.persons.push(Person {
            id: person_id,
            first: first.into(),
            last: last.into(),
            company_id: None,
            email: Some(username.into()),
            female: false,
            created: now,
            updated: None,
            version: 1,
            invalid: false,
            ext_ids: Vec::new(),
        });
        let user = SimUser {
            account_id: self.users.len() as i64 + 1,
            person_id,
            username: username.to_owned(),
            api_key: format!("{:032x}", rng.random::<u128>()),
            key_name: format!("klic-{}", self.users.len() + 1),
            role: role.to_owned(),
        };
        self.users.push(user.clone());
        user
    }

    pub(crate) fn count(&self, entity: &str) -> usize {
        match Ent::parse(entity) {
            Some(Ent::Company) => self.companies.len(),
            Some(Ent::Person) => self.persons.len(),
            Some(Ent::BusinessCase) => self.business_cases.len(),
            Some(Ent::Project) => self.projects.len(),
            Some(e) => self.len(e),
            None => 0,
        }
    }

    fn len(&self, e: Ent) -> usize {
        match e {
            Ent::Company => self.companies.len(),
            Ent::Person => self.persons.len(),
            Ent::BusinessCase => self.business_cases.len(),
            Ent::Project => self.projects.len(),
            Ent::Email | Ent::Meeting | Ent::Event | Ent::Task | Ent::PhoneCall | Ent::Letter => {
                self.activities(e).len()
            }
        }
    }

    fn activities(&self, e: Ent) -> &Table<Activity> {
        match e {
            Ent::Email => &self.emails,
            Ent::Event => &self.events,
            Ent::Task => &self.tasks,
            Ent::PhoneCall => &self.phone_calls,
            Ent::Letter => &self.letters,
            _ => &self.meetings,
        }
    }

    fn activities_mut(&mut self, e: Ent) -> &mut Table<Activity> {
        match e {
            Ent::Email => &mut self.emails,
            Ent::Event => &mut self.events,
            Ent::Task => &mut self.tasks,
            Ent::PhoneCall => &mut self.phone_calls,
            Ent::Letter => &mut self.letters,
            _ => &mut self.meetings,
        }
    }

    /// Whether person `person` takes part in activity `i` of `e` (the owner is a participant).
    fn takes_part(&self, e: Ent, i: usize, person: i64) -> bool {
        self.activities(e).rows[i]
            .participants
            .iter()
            .any(|p| p.person == Some(person))
    }

    fn deals(&self, e: Ent) -> &Table<Deal> {
        if e == Ent::Project {
            &self.projects
        } else {
            &self.business_cases
        }
    }

    fn deals_mut(&mut self, e: Ent) -> &mut Table<Deal> {
        if e == Ent::Project {
            &mut self.projects
        } else {
            &mut self.business_cases
        }
    }

    fn id_at(&self, e: Ent, i: usize) -> i64 {
        match e {
            Ent::Company => self.companies.rows[i].id,
            Ent::Person => self.persons.rows[i].id,
            Ent::BusinessCase | Ent::Project => self.deals(e).rows[i].id,
            Ent::Email | Ent::Meeting | Ent::Event | Ent::Task | Ent::PhoneCall | Ent::Letter => {
                self.activities(e).rows[i].id
            }
        }
    }

    fn index(&self, e: Ent, id: i64) -> Option<usize> {
        match e {
            Ent::Company => self.companies.index(id),
            Ent::Person => self.persons.index(id),
            Ent::BusinessCase | Ent::Project => self.deals(e).index(id),
            Ent::Email | Ent::Meeting | Ent::Event | Ent::Task | Ent::PhoneCall | Ent::Letter => {
                self.activities(e).index(id)
            }
        }
    }

    fn ext_ids_at(&self, e: Ent, i: usize) -> Vec<String> {
        let boxed = |v: &Vec<Box<str>>| v.iter().map(|s| s.to_string()).collect();
        match e {
            Ent::Company => boxed(&self.companies.rows[i].ext_ids),
            Ent::Person => boxed(&self.persons.rows[i].ext_ids),
            Ent::BusinessCase | Ent::Project => boxed(&self.deals(e).rows[i].ext_ids),
            Ent::Email | Ent::Meeting | Ent::Event | Ent::Task | Ent::PhoneCall | Ent::Letter => {
                self.activities(e).rows[i].ext_ids.clone()
            }
        }
    }

    fn find_ext(&self, e: Ent, ext: &str) -> Option<usize> {
        (0..self.len(e)).find(|&i| self.ext_ids_at(e, i).iter().any(|x| x == ext))
    }

    fn times_at(&self, e: Ent, i: usize) -> (i64, Option<i64>) {
        match e {
            Ent::Company => (
                self.companies.rows[i].created,
                self.companies.rows[i].updated,
            ),
            Ent::Person => (self.persons.rows[i].created, self.persons.rows[i].updated),
            Ent::BusinessCase | Ent::Project => {
                let d = &self.deals(e).rows[i];
                (d.created, d.updated)
            }
            Ent::Email | Ent::Meeting | Ent::Event | Ent::Task | Ent::PhoneCall | Ent::Letter => {
                let a = &self.activities(e).rows[i];
                (a.created, a.updated)
            }
        }
    }

    fn invalid_at(&self, e: Ent, i: usize) -> bool {
        match e {
            Ent::Company => self.companies.rows[i].invalid,
            Ent::Person => self.persons.rows[i].invalid,
            Ent::BusinessCase | Ent::Project => self.deals(e).rows[i].invalid,
            Ent::Email | Ent::Meeting | Ent::Event | Ent::Task | Ent::PhoneCall | Ent::Letter => {
                false
            }
        }
    }

    fn field(&self, e: Ent, i: usize, name: &str) -> Fv {
        let (created, updated) = self.times_at(e, i);
        let text = |s: &str| Fv::Str(s.to_owned());
        let opt = |s: Option<String>| s.map_or(Fv::Null, Fv::Str);
        match name {
            "id" => Fv::Int(self.id_at(e, i)),
            "rowInfo.createdAt" => Fv::Time(created),
            "rowInfo.updatedAt" => updated.map_or(Fv::Null, Fv::Time),
            "rowInfo.lastModifiedAt" => Fv::Time(updated.unwrap_or(created)),
            "rowInfo.rowAccess" => {
                if self.invalid_at(e, i) {
                    text("INVALID")
                } else {
                    Fv::Null
                }
            }
            _ => match e {
                Ent::Company => {
                    let c = &self.companies.rows[i];
                    match name {
                        "name" => text(&c.name),
                        "regNumber" => opt(c.ico()),
                        "primaryAddress-contactInfo.email" => opt(c.main_email()),
                        _ => Fv::Null,
                    }
                }
                Ent::Person => {
                    let p = &self.persons.rows[i];
                    match name {
                        "firstName" => text(&p.first),
                        "lastName" => text(&p.last),
                        "contactInfo.email" => opt(p.email.as_deref().map(str::to_owned)),
                        "primaryRelationship-company-id" => p.company_id.map_or(Fv::Null, Fv::Int),
                        _ => Fv::Null,
                    }
                }
                Ent::BusinessCase | Ent::Project => {
                    let d = &self.deals(e).rows[i];
                    match name {
                        "code" => text(&d.code),
                        "name" => text(&d.name),
                        "company" => Fv::Int(d.company_id),
                        "status" => text(d.status),
                        _ => Fv::Null,
                    }
                }
                Ent::Email
                | Ent::Meeting
                | Ent::Event
                | Ent::Task
                | Ent::PhoneCall
                | Ent::Letter => {
                    let a = &self.activities(e).rows[i];
                    let at = |t: Option<i64>| t.map_or(Fv::Null, Fv::Time);
                    match name {
                        "title" => text(&a.title),
                        "owner-id" => Fv::Int(a.owner_id),
                        "status" => text(&a.status),
                        "scheduledFrom" => at(a.from),
                        "scheduledTill" => at(a.till),
                        "completed" => at(a.completed),
                        "deadline" => at(a.deadline),
                        _ => Fv::Null,
                    }
                }
            },
        }
    }

    fn user_by_person(&self, person_id: i64) -> Option<&SimUser> {
        self.users.iter().find(|u| u.person_id == person_id)
    }

    fn owner_ref(&self) -> Value {
        match self.users.first() {
            Some(u) => json!({"id": u.person_id, "fullName": self.person_name(u.person_id)}),
            None => Value::Null,
        }
    }

    fn person_name(&self, id: i64) -> String {
        self.persons
            .get(id)
            .map(Person::full_name)
            .unwrap_or_default()
    }

    fn company_ref(&self, id: Option<i64>) -> Value {
        match id.and_then(|id| self.companies.get(id)) {
            Some(c) => json!({"id": c.id, "name": &*c.name}),
            None => Value::Null,
        }
    }

    fn person_ref(&self, id: Option<i64>) -> Value {
        match id.and_then(|id| self.persons.get(id)) {
            Some(p) => json!({"id": p.id, "fullName": p.full_name()}),
            None => Value::Null,
        }
    }

    fn deal_ref(&self, e: Ent, id: Option<i64>) -> Value {
        match id.and_then(|id| self.deals(e).get(id)) {
            Some(d) => json!({"id": d.id, "code": &*d.code, "name": &*d.name}),
            None => Value::Null,
        }
    }
}

/// A field's value for filtering.
#[derive(Debug, Clone, PartialEq)]
enum Fv {
    Int(i64),
    Str(String),
    Time(i64),
    Null,
}

/// `2024-01-01T10:00:00.000+00:00`.
pub(crate) fn iso(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string())
        .unwrap_or_default()
}

fn time(ms: i64, iso_format: bool) -> String {
    if iso_format {
        iso(ms)
    } else {
        Utc.timestamp_millis_opt(ms)
            .single()
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    }
}

fn opt_time(ms: Option<i64>, iso_format: bool) -> Value {
    ms.map_or(Value::Null, |m| json!(time(m, iso_format)))
}

fn date(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn parse_input_time(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
                .ok()
                .map(|t| t.and_utc().timestamp_millis())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp_millis())
        })
}

fn ext_json(ext: Vec<String>) -> Value {
    if ext.is_empty() {
        Value::Null
    } else {
        json!(ext)
    }
}

fn code(id: i64, value: &str) -> Value {
    json!({"id": id, "value": value})
}

const STATES: [&str; 4] = ["A_POTENTIAL", "B_ACTUAL", "C_DEFERRED", "D_UNATTRACTIVE"];
const ROLES: [&str; 4] = ["A_SUBSCRIBER", "B_PARTNER", "C_SUPPLIER", "D_RIVAL"];
const RATINGS: [&str; 3] = ["A", "B", "C"];

fn gdpr(created: i64) -> Value {
    json!([{
        "id": 1, "validFrom": date(created), "validTill": date(created + 3 * 365 * 86_400_000),
        "legalTitle": "LEGITIMATE_INTEREST", "templateName": "Oprávněný zájem", "gdprTemplate": 1
    }])
}

fn social() -> Value {
    json!({"facebook": null, "googleplus": null, "twitter": null, "linkedin": null,
           "pinterest": null, "instagram": null, "skype": null, "youtube": null})
}

fn row_info(
    v: &mut Map<String, Value>,
    created: i64,
    updated: Option<i64>,
    by: &str,
    invalid: bool,
    iso_format: bool,
) {
    v.insert("rowInfo.createdAt".into(), json!(time(created, iso_format)));
    v.insert("rowInfo.createdBy".into(), json!(by));
    v.insert("rowInfo.updatedAt".into(), opt_time(updated, iso_format));
    v.insert(
        "rowInfo.updatedBy".into(),
        if updated.is_some() {
            json!(by)
        } else {
            Value::Null
        },
    );
    v.insert(
        "rowInfo.rowAccess".into(),
        if invalid {
            json!("INVALID")
        } else {
            Value::Null
        },
    );
    v.insert("rowInfo.rowState".into(), Value::Null);
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn address(c: &Company, contact: bool) -> Value {
    let (city, zip, province) =
        super::data::CITIES[usize::from(c.city) % super::data::CITIES.len()];
    let street = super::data::STREETS[(c.id as usize) % super::data::STREETS.len()];
    let id = c.id * 2 + i64::from(contact);
    let email = if contact {
        (!c.domain.is_empty()).then(|| format!("obchod@{}", c.domain))
    } else {
        c.main_email()
    };
    json!({
        "id": id, "primary": !contact, "contactAddress": contact,
        "address": {
            "id": id, "city": city, "country": "Česká republika",
            "name": if contact { "Provozovna" } else { "Sídlo klienta" },
            "province": province, "street": format!("{street} {}", c.street_no), "zipCode": zip,
            "lat": 49.0 + f64::from(c.city) / 10.0, "lng": 14.0 + f64::from(c.street_no % 300) / 100.0
        },
        "territory": code(91, "Česko"),
        "contactInfo": {
            "email": email, "email2": null, "primary": true,
            "tel1": format!("+420 {:03} {:03} {:03}", 500 + c.id % 400, c.id % 1000, (c.id / 1000) % 1000),
            "tel1Type": "pevná linka", "tel2": null, "tel2Type": null,
            "www": if c.domain.is_empty() { Value::Null } else { json!(format!("www.{}", c.domain)) },
            "otherContact": null
        }
    })
}

fn render_company(db: &Db, c: &Company, iso_format: bool) -> Value {
    let ico = c.ico();
    let mut v = obj(json!({
        "id": c.id, "name": &*c.name, "titleBefore": null, "firstName": null, "lastName": null,
        "titleAfter": null, "salutation": null, "person": false,
        "role": ROLES[usize::from(c.role) % 4], "state": STATES[usize::from(c.state) % 4],
        "rating": RATINGS[usize::from(c.rating) % 3], "owner": db.owner_ref(),
        "regNumber": ico, "taxNumber": ico.as_ref().map(|i| format!("CZ{i}")), "taxNumber2": null,
        "taxPayer": if ico.is_some() { "YES" } else { "NO" },
        "bankAccount": null, "databox": null, "court": null, "birthday": null,
        "primaryAddress": address(c, false), "contactAddress": address(c, true),
        "addresses": [address(c, false), address(c, true)],
        "category": code(15, "Zákazník"), "contactSource": code(62, "web"),
        "employeesNumber": code(64, "1 - 10"), "legalForm": code(65, "s.r.o."),
        "paymentTerm": code(66, "14 dní"), "turnover": code(82, "do 10 mil. Kč"),
        "economyActivity": code(92, "Výroba"), "companyClassification1": code(93, "Klasifikace 1"),
        "companyClassification2": null, "companyClassification3": null,
        "notice": null, "tags": [], "logo": null, "socialNetworkContact": social(),
        "customFields": null, "securityLevel": db.level_ref(Ent::Company, c.id), "inlineGdpr": gdpr(c.created),
        "_version": c.version, "attachments": [], "originLead": null,
        "extIds": ext_json(c.ext_ids.iter().map(|s| s.to_string()).collect()),
    }));
    row_info(
        &mut v,
        c.created,
        c.updated,
        "admin@raynet.cz",
        c.invalid,
        iso_format,
    );
    Value::Object(v)
}

fn render_person(db: &Db, p: &Person, iso_format: bool) -> Value {
    let company = p.company_id.and_then(|id| db.companies.get(id));
    let relationship = company.map_or(Value::Null, |c| {
        json!({"id": p.id, "type": "kontaktní osoba", "company": {"id": c.id, "name": &*c.name}})
    });
    let relationships = company.map_or(json!([]), |c| {
        json!([{"id": p.id, "company": {"id": c.id, "name": &*c.name},
                "companyAddress": {"id": c.id * 2, "name": "Sídlo klienta"},
                "notice": null, "primary": true, "type": "kontaktní osoba"}])
    });
    let company_address = company.map_or(Value::Null, |c| {
        let a = address(c, false);
        json!({"address": {
            "id": a["address"]["id"], "city": a["address"]["city"], "country": "Česká republika",
            "countryCode": "CZ", "province": a["address"]["province"], "street": a["address"]["street"],
            "zipCode": a["address"]["zipCode"]}, "territory": null})
    });
    let user = db.user_by_person(p.id).is_some();
    let mut v = obj(json!({
        "id": p.id, "titleBefore": null, "firstName": &*p.first, "lastName": &*p.last, "titleAfter": null,
        "primaryRelationship": relationship, "owner": db.owner_ref(), "category": code(96, "Kontakt"),
        "contactInfo": {
            "email": p.email.as_deref(), "email2": null,
            "tel1": format!("+420 6{:02} {:03} {:03}", p.id % 100, p.id % 1000, (p.id / 7) % 1000),
            "tel1Type": "mobil", "tel2": null, "tel2Type": null, "www": null, "fax": null,
            "otherContact": null, "doNotSendMM": false
        },
        "privateAddress": {"city": null, "country": null, "countryCode": null, "province": null, "street": null, "zipCode": null},
        "personClassification1": null, "personClassification2": null, "personClassification3": null,
        "salutation": if p.female { "paní" } else { "pan" }, "birthday": null,
        "language": code(70, "čeština"), "maritalStatus": null,
        "gender": if p.female { "FEMALE" } else { "MALE" },
        "companyAddress": company_address, "socialNetworkContact": social(), "customFields": null,
        "securityLevel": db.level_ref(Ent::Person, p.id), "notice": null, "photo": null,
        "activeUserAccount": user, "keyman": false, "tags": [], "_version": p.version,
        "attachments": [], "relationships": relationships, "inlineGdpr": gdpr(p.created),
        "originLead": null, "extIds": ext_json(p.ext_ids.iter().map(|s| s.to_string()).collect()),
    }));
    row_info(
        &mut v,
        p.created,
        p.updated,
        "admin@raynet.cz",
        p.invalid,
        iso_format,
    );
    Value::Object(v)
}

fn render_deal(db: &Db, e: Ent, d: &Deal, iso_format: bool) -> Value {
    let amount = f64::from(d.amount);
    let mut v = obj(json!({
        "id": d.id, "code": &*d.code, "name": &*d.name, "company": db.company_ref(Some(d.company_id)),
        "person": db.person_ref(d.person_id), "owner": db.owner_ref(), "category": code(128, "Obchod"),
        "validFrom": date(d.created), "validTill": null, "scheduledEnd": date(d.created + 90 * 86_400_000),
        "totalAmount": amount, "tradingProfit": amount * 0.3, "estimatedValue": amount * 0.7,
        "status": d.status, "customFields": null, "securityLevel": db.level_ref(e, d.id),
        "description": null, "tags": [], "attachments": [], "signatures": [], "_version": d.version,
        "extIds": ext_json(d.ext_ids.iter().map(|s| s.to_string()).collect()),
    }));
    if e == Ent::BusinessCase {
        let won = d.status == "E_WIN";
        for (k, val) in [
            ("currency", code(15, "Kč")),
            ("totalAmountWithTax", json!(amount * 1.21)),
            ("probability", json!(if won { 100 } else { 50 })),
            ("exchangeRate", json!(1)),
            (
                "businessCasePhase",
                code(45, if won { "Výhra" } else { "Jednání" }),
            ),
            ("businessCaseType", Value::Null),
            ("project", Value::Null),
            ("source", Value::Null),
            ("businessCaseClassification1", Value::Null),
            ("businessCaseClassification2", Value::Null),
            ("businessCaseClassification3", Value::Null),
            ("losingReason", Value::Null),
            ("losingCategory", Value::Null),
            (
                "items",
                json!([{"id": d.id, "priceListItem": null, "name": &*d.name, "description": null,
                              "price": amount, "taxRate": 21, "unit": "ks", "discountPercent": 0, "count": 1}]),
            ),
            ("originalLead", Value::Null),
        ] {
            v.insert(k.into(), val);
        }
    } else {
        for prefix in ["avgValue", "minValue", "maxValue"] {
            v.insert(format!("{prefix}.totalAmount"), json!(amount));
            v.insert(format!("{prefix}.tradingProfit"), json!(amount * 0.3));
            v.insert(format!("{prefix}.estimatedValue"), json!(amount * 0.7));
        }
        let done = d.status == "D_DONE";
        v.insert(
            "projectStatus".into(),
            code(
                if done { 60 } else { 59 },
                if done { "Hotovo" } else { "Aktivní (v běhu)" },
            ),
        );
        v.insert("businessCases".into(), json!([]));
    }
    row_info(
        &mut v,
        d.created,
        d.updated,
        "admin@raynet.cz",
        d.invalid,
        iso_format,
    );
    Value::Object(v)
}

fn render_activity(db: &Db, e: Ent, a: &Activity, iso_format: bool) -> Value {
    let participants: Vec<Value> = a
        .participants
        .iter()
        .map(|p| {
            json!({"id": p.id, "owner": p.owner, "role": p.role, "name": p.name, "person": p.person,
                   "company": p.company, "lead": p.lead, "email": p.email})
        })
        .collect();
    let mut v = obj(json!({
        "id": a.id, "title": a.title, "personal": false, "status": a.status, "priority": a.priority,
        "category": null, "activity": null, "owner": db.person_ref(Some(a.owner_id)),
        "company": db.company_ref(a.company_id), "person": db.person_ref(a.person_id), "lead": null,
        "project": db.deal_ref(Ent::Project, a.project_id),
        "businessCase": db.deal_ref(Ent::BusinessCase, a.business_case_id),
        "offer": null, "salesOrder": null,
        "scheduledFrom": opt_time(a.from, iso_format), "scheduledTill": opt_time(a.till, iso_format),
        "completed": opt_time(a.completed, iso_format), "description": a.description, "tags": a.tags,
        "securityLevel": db.level_ref(e, a.id), "_version": a.version, "customFields": null,
        "participants": participants, "recurrence": null, "extIds": ext_json(a.ext_ids.clone()),
    }));
    // Per the spec's detail examples: the place on meetings and events, the outcome on
    // meetings, tasks and calls, the deadline on tasks.
    if matches!(e, Ent::Meeting | Ent::Task | Ent::PhoneCall) {
        v.insert("solution".into(), json!(a.solution));
    }
    if matches!(e, Ent::Meeting | Ent::Event) {
        v.insert("meetingPlace".into(), json!(a.place));
    }
    if e == Ent::Meeting {
        v.insert("companyAddress".into(), Value::Null);
    }
    if e == Ent::Task {
        v.insert("deadline".into(), opt_time(a.deadline, iso_format));
    }
    v.insert(
        "rowInfo.createdAt".into(),
        json!(time(a.created, iso_format)),
    );
    v.insert("rowInfo.createdBy".into(), json!(a.created_by));
    v.insert("rowInfo.updatedAt".into(), opt_time(a.updated, iso_format));
    v.insert("rowInfo.updatedBy".into(), json!(a.updated_by));
    v.insert("rowInfo.rowAccess".into(), Value::Null);
    v.insert("rowInfo.rowState".into(), Value::Null);
    Value::Object(v)
}

fn render_at(db: &Db, e: Ent, i: usize, iso_format: bool) -> Value {
    match e {
        Ent::Company => render_company(db, &db.companies.rows[i], iso_format),
        Ent::Person => render_person(db, &db.persons.rows[i], iso_format),
        Ent::BusinessCase | Ent::Project => render_deal(db, e, &db.deals(e).rows[i], iso_format),
        Ent::Email | Ent::Meeting | Ent::Event | Ent::Task | Ent::PhoneCall | Ent::Letter => {
            render_activity(db, e, &db.activities(e).rows[i], iso_format)
        }
    }
}

fn render_user(db: &Db, u: &SimUser, iso_format: bool) -> Value {
    let created = super::now_ms();
    let mut v = obj(json!({
        "id": u.account_id, "_version": 1, "username": u.username,
        "person": {"id": u.person_id, "fullName": db.person_name(u.person_id)},
        "email2": null, "userRole": u.role, "personRecordFilter": null,
        "listExportPermission": true, "detailReportPermission": true, "googleContactsPermission": false,
        "bulkOperationPermission": true, "codelistEditPermission": u.role == "ADMIN",
        "editOnlyOwnedRecordsPermission": false, "onlyLockRecordsPermission": false,
        "deletePermissionConfig": null, "twoFactorEnabled": false, "timezone": "EUROPE_PRAGUE",
        "dateFormat": "DAY_MONTH_YEAR", "timeFormat": "HOUR24", "startWeekDay": "MONDAY",
        "securityLevels": db.levels_of(u).into_iter().map(|l| db.level_ref_of(l)).collect::<Vec<_>>(),
        "securityProfile": {"id": 1, "name": "Výchozí profil"},
    }));
    v.insert("rowInfo.createdAt".into(), json!(time(created, iso_format)));
    v.insert("rowInfo.createdBy".into(), json!("(unknown)"));
    v.insert("rowInfo.updatedAt".into(), json!(time(created, iso_format)));
    v.insert("rowInfo.updatedBy".into(), json!("(unknown)"));
    Value::Object(v)
}

struct Filter {
    field: String,
    op: String,
    value: String,
}

fn like(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (n, part) in parts.iter().enumerate() {
        if n == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if n == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn compare(field: &Fv, value: &str) -> Option<std::cmp::Ordering> {
    match field {
        Fv::Int(n) => value.trim().parse::<i64>().ok().map(|v| n.cmp(&v)),
        Fv::Time(t) => parse_input_time(value.trim()).map(|v| t.cmp(&v)),
        Fv::Str(s) => Some(s.as_str().cmp(value)),
        Fv::Null => None,
    }
}

fn text_of(field: &Fv) -> String {
    match field {
        Fv::Int(n) => n.to_string(),
        Fv::Time(t) => iso(*t),
        Fv::Str(s) => s.clone(),
        Fv::Null => String::new(),
    }
}

fn matches(field: &Fv, op: &str, value: &str) -> Result<bool, String> {
    use std::cmp::Ordering::*;
    let empty = matches!(field, Fv::Null) || matches!(field, Fv::Str(s) if s.is_empty());
    Ok(match op {
        "EQ" if value.is_empty() => empty,
        "NE" if value.is_empty() => !empty,
        "EQ" => compare(field, value) == Some(Equal),
        "NE" => compare(field, value) != Some(Equal),
        "EQ_OR_NULL" => empty || compare(field, value) == Some(Equal),
        "NE_OR_NULL" => empty || compare(field, value) != Some(Equal),
        "LT" => compare(field, value) == Some(Less),
        "LE" => matches!(compare(field, value), Some(Less | Equal)),
        "GT" => compare(field, value) == Some(Greater),
        "GE" => matches!(compare(field, value), Some(Greater | Equal)),
        "LIKE" => like(value, &text_of(field)),
        "LIKE_NOCASE" => like(&value.to_lowercase(), &text_of(field).to_lowercase()),
        "IN" => value
            .split(',')
            .any(|v| compare(field, v.trim()) == Some(Equal)),
        "NOT_IN" => !value
            .split(',')
            .any(|v| compare(field, v.trim()) == Some(Equal)),
        other => return Err(format!("Unsupported filter operator {other}")),
    })
}

fn list(db: &Db, e: Ent, query: &str, user: &SimUser) -> Answer {
    let mut offset = 0usize;
    let mut limit = 20usize;
    let mut iso_format = false;
    let mut descending = false;
    let mut sort_name = false;
    let mut row_info_only = false;
    let mut filters = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "offset" => match value.parse() {
                Ok(v) => offset = v,
                Err(_) => return message(StatusCode::BAD_REQUEST, "Invalid value of offset"),
            },
            "limit" => match value.parse::<usize>() {
                Ok(v) => limit = v.min(1000),
                Err(_) => return message(StatusCode::BAD_REQUEST, "Invalid value of limit"),
            },
            "dateFormat" => iso_format = value == "ISO8601",
            "sortDirection" => descending = value == "DESC",
            "sortColumn" => sort_name = value == "name",
            // `view=rowInfo`: only the record's state (id, version, rowInfo.*), "for periodic
            // change detection" as the spec puts it.
            "view" => row_info_only = value == "rowInfo",
            "fulltext" => {}
            other => {
                let (field, op) = match other.split_once('[') {
                    Some((f, rest)) => (f, rest.trim_end_matches(']')),
                    None => (other, "EQ"),
                };
                if field == "personFilter" && op != "EQ" {
                    return message(StatusCode::BAD_REQUEST, "personFilter takes no operator");
                }
                if !e.filters().contains(&field) {
                    return message(
                        StatusCode::BAD_REQUEST,
                        &format!("Unsupported filter column {field}"),
                    );
                }
                filters.push(Filter {
                    field: field.into(),
                    op: op.into(),
                    value: value.into_owned(),
                });
            }
        }
    }
    let len = db.len(e);
    let limited = db.user_levels.contains_key(&user.account_id);
    let (total, page): (usize, Vec<usize>) =
        if filters.is_empty() && !sort_name && !descending && !limited {
            (
                len,
                (offset.min(len)..(offset.saturating_add(limit)).min(len)).collect(),
            )
        } else {
            let mut hits = Vec::new();
            for i in 0..len {
                let mut keep = true;
                for f in &filters {
                    if f.field == "personFilter" {
                        let Ok(person) = f.value.trim().parse::<i64>() else {
                            return message(StatusCode::BAD_REQUEST, "personFilter must be an id");
                        };
                        if !db.takes_part(e, i, person) {
                            keep = false;
                            break;
                        }
                        continue;
                    }
                    match matches(&db.field(e, i, &f.field), &f.op, &f.value) {
                        Ok(true) => {}
                        Ok(false) => {
                            keep = false;
                            break;
                        }
                        Err(m) => return message(StatusCode::BAD_REQUEST, &m),
                    }
                }
                // A user limited to some security levels never sees records on the others.
                if keep && (!limited || db.may_open(user, e, db.id_at(e, i))) {
                    hits.push(i);
                }
            }
            if sort_name {
                hits.sort_by_key(|&i| text_of(&db.field(e, i, "name")));
            }
            if descending {
                hits.reverse();
            }
            let total = hits.len();
            (total, hits.into_iter().skip(offset).take(limit).collect())
        };
    let data: Vec<Value> = page
        .into_iter()
        .map(|i| render_at(db, e, i, iso_format))
        .map(|record| match (row_info_only, record) {
            (true, Value::Object(fields)) => Value::Object(
                fields
                    .into_iter()
                    .filter(|(k, _)| k == "id" || k == "_version" || k.starts_with("rowInfo."))
                    .collect(),
            ),
            (_, record) => record,
        })
        .collect();
    // The spec's examples: `"true"` on these lists, a boolean on activity lists.
    let success = if e.is_activity() {
        json!(true)
    } else {
        json!("true")
    };
    Answer::json(
        StatusCode::OK,
        &json!({"success": success, "totalCount": total, "data": data}),
    )
}

fn iso_requested(query: &str) -> bool {
    url::form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "dateFormat" && v == "ISO8601")
}

fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Routes one authenticated API request.
pub(crate) fn handle(
    sim: &Sim,
    actor: &Actor,
    user: &SimUser,
    method: &Method,
    path: &str,
    query: &str,
    body: &[u8],
) -> Answer {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(decode_segment)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let iso_format = iso_requested(query);
    let parsed_body = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => v,
            Err(e) => return message(StatusCode::BAD_REQUEST, &format!("Malformed JSON: {e}")),
        }
    };
    match (method.clone(), segs.as_slice()) {
        (Method::GET, ["userAccount"]) => {
            let db = sim.db.lock();
            let filters: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "offset" | "limit" | "dateFormat" | "sortColumn" | "sortDirection"
                    )
                })
                .collect();
            for (k, _) in &filters {
                if !matches!(k.split('[').next(), Some("username" | "userRole")) {
                    return message(
                        StatusCode::BAD_REQUEST,
                        &format!("Unsupported filter column {k}"),
                    );
                }
            }
            let rows: Vec<Value> = db
                .users
                .iter()
                .filter(|u| {
                    filters.iter().all(|(k, v)| match k.split('[').next() {
                        Some("username") => u.username.eq_ignore_ascii_case(v),
                        Some("userRole") => u.role == *v,
                        _ => true,
                    })
                })
                .map(|u| {
                    // As in the spec, the listing leaves the security levels out.
                    let mut user = render_user(&db, u, iso_format);
                    if let Some(fields) = user.as_object_mut() {
                        fields.remove("securityLevels");
                    }
                    user
                })
                .collect();
            Answer::json(
                StatusCode::OK,
                &json!({"success": "true", "totalCount": rows.len(), "data": rows}),
            )
        }
        (Method::GET, ["userAccount", id]) => {
            let db = sim.db.lock();
            match db.users.iter().find(|u| id.parse() == Ok(u.account_id)) {
                Some(u) => Answer::json(
                    StatusCode::OK,
                    &json!({"success": "true", "data": render_user(&db, u, iso_format)}),
                ),
                None => message(StatusCode::NOT_FOUND, "User account not found"),
            }
        }
        (Method::GET, ["webhook"]) => {
            let db = sim.db.lock();
            let hooks: Vec<Value> = db
                .webhooks
                .iter()
                .map(|w| json!({"webhookId": w.uuid, "url": w.url, "secretToken": w.secret_token, "eventsFilter": w.events}))
                .collect();
            Answer::json(
                StatusCode::OK,
                &json!({"success": "true", "data": {
                "technicalContacts": [format!("technik@{}.example.cz", sim.instance)], "webhooks": hooks}}),
            )
        }
        (Method::PUT, ["webhook"]) => {
            if user.role != "ADMIN" {
                return access_denied();
            }
            let url = parsed_body["url"].as_str().unwrap_or_default().to_owned();
            let events: Vec<String> = parsed_body["events"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if url.is_empty() || events.is_empty() {
                return message(
                    StatusCode::BAD_REQUEST,
                    "url and events (at least one) are required",
                );
            }
            if let Some(bad) = events.iter().find(|e| !super::EVENTS.contains(&e.as_str())) {
                return message(StatusCode::BAD_REQUEST, &format!("Unknown event {bad}"));
            }
            let uuid = {
                use rand::Rng;
                format!("{:032x}", sim.rng.lock().random::<u128>())
            };
            sim.db.lock().webhooks.push(Webhook {
                uuid: uuid.clone(),
                url,
                secret_token: parsed_body["secretToken"].as_str().map(str::to_owned),
                events,
            });
            Answer::json(
                StatusCode::CREATED,
                &json!({"success": true, "data": {"uuid": uuid}}),
            )
        }
        (Method::DELETE, ["webhook", uuid]) => {
            let mut db = sim.db.lock();
            let before = db.webhooks.len();
            db.webhooks.retain(|w| w.uuid != *uuid);
            if db.webhooks.len() == before {
                message(StatusCode::NOT_FOUND, "Webhook not found")
            } else {
                Answer::json(StatusCode::OK, &json!({"success": true}))
            }
        }
        (Method::GET, ["securityLevel"]) => {
            let db = sim.db.lock();
            let rows: Vec<Value> = db
                .levels
                .iter()
                .map(|(id, name)| json!({"id": id, "name": name, "locked": *id == 1}))
                .collect();
            Answer::json(
                StatusCode::OK,
                &json!({"success": true, "totalCount": rows.len(), "data": rows}),
            )
        }
        (Method::GET, [entity]) => match Ent::parse(entity) {
            Some(e) => list(&sim.db.lock(), e, query, user),
            None => not_found(),
        },
        (Method::GET, [entity, "ext", ext]) => match Ent::parse(entity) {
            Some(e) => {
                let db = sim.db.lock();
                match db.find_ext(e, ext) {
                    Some(i) => Answer::json(
                        StatusCode::OK,
                        &json!({"success": "true", "data": render_at(&db, e, i, iso_format)}),
                    ),
                    None => message(
                        StatusCode::NOT_FOUND,
                        &format!("{} with externalId {ext} was not found", e.entity_name()),
                    ),
                }
            }
            None => not_found(),
        },
        (Method::GET, [entity, id]) => match (Ent::parse(entity), id.parse::<i64>()) {
            (Some(e), Ok(id)) => {
                let db = sim.db.lock();
                match db.index(e, id).filter(|_| db.may_open(user, e, id)) {
                    Some(i) => Answer::json(
                        StatusCode::OK,
                        &json!({"success": "true", "data": render_at(&db, e, i, iso_format)}),
                    ),
                    None => message(
                        StatusCode::NOT_FOUND,
                        &format!("{} {id} was not found", e.entity_name()),
                    ),
                }
            }
            _ => not_found(),
        },
        (Method::PUT, [entity, id, "extId"]) => match (Ent::parse(entity), id.parse::<i64>()) {
            (Some(e), Ok(id)) => {
                let Some(ext) = parsed_body["extId"].as_str().filter(|s| !s.is_empty()) else {
                    return message(StatusCode::BAD_REQUEST, "extId is required");
                };
                let (status, body) = write(
                    sim,
                    actor,
                    &Method::PATCH,
                    entity,
                    Some(id),
                    &json!({"extId": ext}),
                );
                let _ = e;
                Answer::json(status, &body)
            }
            _ => not_found(),
        },
        (m @ (Method::PUT | Method::POST | Method::DELETE), [entity, rest @ ..])
            if rest.len() <= 1 =>
        {
            if Ent::parse(entity).is_none() {
                return not_found();
            }
            if user.role == "READONLY" {
                return access_denied();
            }
            let id = match rest.first().map(|s| s.parse::<i64>()) {
                None => None,
                Some(Ok(id)) => Some(id),
                Some(Err(_)) => return not_found(),
            };
            if (m == Method::PUT) != id.is_none() {
                return not_found();
            }
            let (status, body) = write(sim, actor, &m, entity, id, &parsed_body);
            Answer::json(status, &body)
        }
        _ => not_found(),
    }
}

fn not_found() -> Answer {
    message(StatusCode::NOT_FOUND, "Not found")
}

fn access_denied() -> Answer {
    Answer::json(
        StatusCode::INTERNAL_SERVER_ERROR,
        &json!({"message": "AttributeAccessDeniedException", "translatedMessage": "Nemáte dostatečná oprávnění pro tuto operaci."}),
    )
}

fn bad(text: &str) -> (StatusCode, Value) {
    (StatusCode::BAD_REQUEST, json!({"message": text}))
}

fn str_field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

fn id_field(body: &Value, key: &str) -> Result<Option<i64>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{key} must be an id")),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("{key} must be an id")),
        Some(_) => Err(format!("{key} must be an id")),
    }
}

fn time_field(body: &Value, key: &str) -> Result<Option<i64>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_input_time(s)
            .map(Some)
            .ok_or_else(|| format!("{key}: invalid date and time `{s}`")),
        Some(_) => Err(format!("{key} must be a date and time")),
    }
}

fn duplicate_ext() -> (StatusCode, Value) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"message": "TranslatedApplicationException: exception.duplicateKey",
               "translatedMessage": "Záznam s tímto externím identifikátorem již existuje."}),
    )
}

/// Creates (`PUT`), updates (`POST`), adds an external id (`PATCH`) or deletes (`DELETE`) a
/// record, and emits the webhook event. Shared by the API and the `/_sim/` control endpoints.
pub(crate) fn write(
    sim: &Sim,
    actor: &Actor,
    method: &Method,
    entity: &str,
    id: Option<i64>,
    body: &Value,
) -> (StatusCode, Value) {
    let Some(e) = Ent::parse(entity) else {
        return (StatusCode::NOT_FOUND, json!({"message": "Not found"}));
    };
    let _ = &actor.role;
    let now = super::now_ms();
    let result = {
        let mut db = sim.db.lock();
        match (method.clone(), id) {
            (Method::PUT, None) => {
                create(&mut db, e, body, now, actor).map(|id| (id, "record.created"))
            }
            (Method::POST, Some(id)) => {
                update(&mut db, e, id, body, now, actor).map(|()| (id, "record.updated"))
            }
            (Method::PATCH, Some(id)) => {
                add_ext(&mut db, e, id, body).map(|()| (id, "record.updated"))
            }
            (Method::DELETE, Some(id)) => delete(&mut db, e, id).map(|ext| {
                sim.emit("record.deleted", e.entity_name(), id, &ext, actor);
                (id, "")
            }),
            _ => Err((StatusCode::NOT_FOUND, json!({"message": "Not found"}))),
        }
        .map(|(id, event)| {
            let ext = db
                .index(e, id)
                .map(|i| db.ext_ids_at(e, i))
                .unwrap_or_default();
            (id, event, ext)
        })
    };
    match result {
        Ok((id, event, ext)) => {
            if !event.is_empty() {
                sim.emit(event, e.entity_name(), id, &ext, actor);
            }
            match *method {
                Method::PUT => (
                    StatusCode::CREATED,
                    json!({"success": true, "data": {"id": id}}),
                ),
                Method::PATCH => (StatusCode::OK, json!({"success": "true"})),
                _ => (StatusCode::OK, json!({"success": true})),
            }
        }
        Err(answer) => answer,
    }
}

type WriteResult<T> = Result<T, (StatusCode, Value)>;

fn ext_from(body: &Value) -> Vec<String> {
    str_field(body, "extId")
        .filter(|s| !s.is_empty())
        .map(|s| vec![s.to_owned()])
        .unwrap_or_default()
}

fn create(db: &mut Db, e: Ent, body: &Value, now: i64, actor: &Actor) -> WriteResult<i64> {
    let ext = ext_from(body);
    if let Some(x) = ext.first()
        && db.find_ext(e, x).is_some()
    {
        return Err(duplicate_ext());
    }
    let boxed_ext: Vec<Box<str>> = ext.iter().map(|s| s.as_str().into()).collect();
    match e {
        Ent::Company => {
            let Some(name) = str_field(body, "name").filter(|s| !s.trim().is_empty()) else {
                return Err(bad("name is required"));
            };
            for key in ["rating", "state", "role"] {
                if str_field(body, key).is_none() {
                    return Err(bad(&format!("{key} is required")));
                }
            }
            let email = body["addresses"][0]["contactInfo"]["email"]
                .as_str()
                .map(str::to_owned);
            let domain = email
                .as_deref()
                .and_then(|m| m.split_once('@'))
                .map(|(_, d)| d.to_owned())
                .unwrap_or_default();
            let id = db.companies.take_id();
            db.companies.push(Company {
                id,
                name: name.into(),
                domain: domain.into(),
                reg_number: str_field(body, "regNumber").and_then(|r| r.trim().parse().ok()),
                email: email.map(Into::into),
                city: 0,
                street_no: 1,
                state: STATES
                    .iter()
                    .position(|s| Some(*s) == str_field(body, "state"))
                    .unwrap_or(0) as u8,
                role: ROLES
                    .iter()
                    .position(|s| Some(*s) == str_field(body, "role"))
                    .unwrap_or(0) as u8,
                rating: RATINGS
                    .iter()
                    .position(|s| Some(*s) == str_field(body, "rating"))
                    .unwrap_or(0) as u8,
                created: now,
                updated: None,
                version: 1,
                invalid: false,
                ext_ids: boxed_ext,
            });
            Ok(id)
        }
        Ent::Person => {
            let Some(last) = str_field(body, "lastName").filter(|s| !s.trim().is_empty()) else {
                return Err(bad("lastName is required"));
            };
            let company = id_field(&body["relationship"], "company").map_err(|m| bad(&m))?;
            if company.is_some_and(|c| db.companies.get(c).is_none()) {
                return Err(bad("relationship.company does not exist"));
            }
            let id = db.persons.take_id();
            db.persons.push(Person {
                id,
                first: str_field(body, "firstName").unwrap_or_default().into(),
                last: last.into(),
                company_id: company,
                email: body["contactInfo"]["email"].as_str().map(Into::into),
                female: str_field(body, "gender") == Some("FEMALE"),
                created: now,
                updated: None,
                version: 1,
                invalid: false,
                ext_ids: boxed_ext,
            });
            Ok(id)
        }
        Ent::BusinessCase | Ent::Project => {
            let Some(name) = str_field(body, "name").filter(|s| !s.trim().is_empty()) else {
                return Err(bad("name is required"));
            };
            let company = id_field(body, "company").map_err(|m| bad(&m))?;
            let Some(company) = company.filter(|c| db.companies.get(*c).is_some()) else {
                return Err(bad("company is required and must exist"));
            };
            let person = id_field(body, "person").map_err(|m| bad(&m))?;
            let table = db.deals_mut(e);
            let id = table.take_id();
            let prefix = if e == Ent::Project { "PRO" } else { "OP" };
            table.push(Deal {
                id,
                code: format!("{prefix}-24-{id:04}").into(),
                name: name.into(),
                company_id: company,
                person_id: person,
                status: "B_ACTIVE",
                amount: body["totalAmount"].as_f64().map_or(0, |a| a as u32),
                created: now,
                updated: None,
                version: 1,
                invalid: false,
                ext_ids: boxed_ext,
            });
            Ok(id)
        }
        Ent::Email | Ent::Meeting | Ent::Event | Ent::Task | Ent::PhoneCall | Ent::Letter => {
            let Some(title) = str_field(body, "title").filter(|s| !s.trim().is_empty()) else {
                return Err(bad("title is required"));
            };
            let Some(priority) = str_field(body, "priority") else {
                return Err(bad("priority is required"));
            };
            if !["MINOR", "DEFAULT", "CRITICAL"].contains(&priority) {
                return Err(bad("priority must be MINOR, DEFAULT or CRITICAL"));
            }
            let Some(owner) = id_field(body, "owner").map_err(|m| bad(&m))? else {
                return Err(bad("owner is required"));
            };
            let Some(owner_user) = db.user_by_person(owner).cloned() else {
                return Err(bad("owner must be a person with a user account"));
            };
            let links = links_from(db, body)?;
            let person = id_field(body, "person").map_err(|m| bad(&m))?;
            if person.is_some_and(|p| db.persons.get(p).is_none()) {
                return Err(bad("person does not exist"));
            }
            let from = time_field(body, "scheduledFrom").map_err(|m| bad(&m))?;
            let till = time_field(body, "scheduledTill").map_err(|m| bad(&m))?;
            let completed = time_field(body, "completed").map_err(|m| bad(&m))?;
            let deadline = if e == Ent::Task {
                let Some(deadline) = time_field(body, "deadline").map_err(|m| bad(&m))? else {
                    return Err(bad("deadline is required"));
                };
                Some(deadline)
            } else {
                None
            };
            let mut participants = vec![Participant {
                id: db.next_participant,
                owner: true,
                role: Some("FROM".into()),
                name: db.person_name(owner),
                person: Some(owner),
                company: None,
                lead: None,
                email: Some(owner_user.username),
            }];
            db.next_participant += 1;
            if let Some(p) = person {
                participants.push(new_participant(db, Some(p), None, None));
            }
            let table = db.activities_mut(e);
            let id = table.take_id();
            // The create schema has no participants, custom fields or meeting place: ignored.
            table.push(Activity {
                id,
                kind: e.path(),
                title: title.to_owned(),
                owner_id: owner,
                priority: priority.to_owned(),
                status: "SCHEDULED".into(),
                company_id: links.0,
                person_id: person,
                business_case_id: links.1,
                project_id: links.2,
                from,
                till,
                completed,
                description: str_field(body, "description").map(str::to_owned),
                solution: if matches!(e, Ent::Meeting | Ent::Task | Ent::PhoneCall) {
                    str_field(body, "solution").map(str::to_owned)
                } else {
                    None
                },
                deadline,
                place: None,
                tags: body["tags"]
                    .as_array()
                    .map(|t| {
                        t.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                participants,
                ext_ids: ext,
                created: now,
                created_by: actor.username.clone(),
                updated: None,
                updated_by: None,
                version: 1,
            });
            Ok(id)
        }
    }
}

fn links_from(db: &Db, body: &Value) -> WriteResult<(Option<i64>, Option<i64>, Option<i64>)> {
    let company = id_field(body, "company").map_err(|m| bad(&m))?;
    let case = id_field(body, "businessCase").map_err(|m| bad(&m))?;
    let project = id_field(body, "project").map_err(|m| bad(&m))?;
    if company.is_some_and(|c| db.companies.get(c).is_none()) {
        return Err(bad("company does not exist"));
    }
    if case.is_some_and(|c| db.business_cases.get(c).is_none()) {
        return Err(bad("businessCase does not exist"));
    }
    if project.is_some_and(|c| db.projects.get(c).is_none()) {
        return Err(bad("project does not exist"));
    }
    Ok((company, case, project))
}

fn new_participant(
    db: &mut Db,
    person: Option<i64>,
    company: Option<i64>,
    role: Option<String>,
) -> Participant {
    let p = person.and_then(|id| db.persons.get(id));
    let name = match (p, company.and_then(|c| db.companies.get(c))) {
        (Some(p), _) => p.full_name(),
        (None, Some(c)) => c.name.to_string(),
        (None, None) => String::new(),
    };
    let participant = Participant {
        id: db.next_participant,
        owner: false,
        role,
        name,
        person,
        company: company.or_else(|| p.and_then(|p| p.company_id)),
        lead: None,
        email: p.and_then(|p| p.email.as_deref().map(str::to_owned)),
    };
    db.next_participant += 1;
    participant
}

fn update(db: &mut Db, e: Ent, id: i64, body: &Value, now: i64, actor: &Actor) -> WriteResult<()> {
    if db.index(e, id).is_none() {
        return Err((
            StatusCode::NOT_FOUND,
            json!({"message": format!("{} {id} was not found", e.entity_name())}),
        ));
    }
    match e {
        Ent::Company => {
            let Some(c) = db.companies.get_mut(id) else {
                return Ok(());
            };
            if let Some(name) = str_field(body, "name") {
                c.name = name.into();
            }
            if let Some(reg) = str_field(body, "regNumber") {
                c.reg_number = reg.trim().parse().ok();
            }
            if let Some(state) =
                str_field(body, "state").and_then(|s| STATES.iter().position(|x| *x == s))
            {
                c.state = state as u8;
            }
            c.updated = Some(now);
            c.version += 1;
        }
        Ent::Person => {
            let company = id_field(&body["relationship"], "company").map_err(|m| bad(&m))?;
            let Some(p) = db.persons.get_mut(id) else {
                return Ok(());
            };
            if let Some(v) = str_field(body, "firstName") {
                p.first = v.into();
            }
            if let Some(v) = str_field(body, "lastName") {
                p.last = v.into();
            }
            if let Some(v) = body["contactInfo"]["email"].as_str() {
                p.email = Some(v.into());
            }
            if company.is_some() {
                p.company_id = company;
            }
            p.updated = Some(now);
            p.version += 1;
        }
        Ent::BusinessCase | Ent::Project => {
            let company = id_field(body, "company").map_err(|m| bad(&m))?;
            let Some(d) = db.deals_mut(e).get_mut(id) else {
                return Ok(());
            };
            if let Some(v) = str_field(body, "name") {
                d.name = v.into();
            }
            if let Some(c) = company {
                d.company_id = c;
            }
            // Not in the edit schema (Raynet changes it through the phase); the `/_sim/` endpoints
            // use it to close cases and projects.
            if let Some(s) = str_field(body, "status") {
                d.status = match s {
                    "E_WIN" => "E_WIN",
                    "F_LOST" => "F_LOST",
                    "G_STORNO" => "G_STORNO",
                    "D_DONE" => "D_DONE",
                    _ => "B_ACTIVE",
                };
            }
            d.updated = Some(now);
            d.version += 1;
        }
        Ent::Email | Ent::Meeting | Ent::Event | Ent::Task | Ent::PhoneCall | Ent::Letter => {
            let from = time_field(body, "scheduledFrom").map_err(|m| bad(&m))?;
            let till = time_field(body, "scheduledTill").map_err(|m| bad(&m))?;
            let completed = time_field(body, "completed").map_err(|m| bad(&m))?;
            let deadline = if e == Ent::Task {
                time_field(body, "deadline").map_err(|m| bad(&m))?
            } else {
                None
            };
            let links = links_from(db, body)?;
            if let Some(s) = str_field(body, "status")
                && !["NEW", "SCHEDULED", "COMPLETED", "CANCELLED"].contains(&s)
            {
                return Err(bad("status must be NEW, SCHEDULED, COMPLETED or CANCELLED"));
            }
            if body
                .get("tags")
                .is_some_and(|t| !t.is_string() && !t.is_null())
            {
                return Err(bad("tags must be a comma-separated string on update"));
            }
            let mut added = Vec::new();
            let mut removed = Vec::new();
            let mut changed = Vec::new();
            if let Some(list) = body.get("participants") {
                let Some(list) = list.as_array() else {
                    return Err(bad("participants must be an array"));
                };
                for p in list {
                    let pid = id_field(p, "id").map_err(|m| bad(&m))?;
                    let person = id_field(p, "person").map_err(|m| bad(&m))?;
                    let company = id_field(p, "company").map_err(|m| bad(&m))?;
                    if person.is_some_and(|x| db.persons.get(x).is_none()) {
                        return Err(bad("participant person does not exist"));
                    }
                    match pid {
                        Some(n) if n < 0 => removed.push(-n),
                        Some(n) => changed.push((n, p.clone())),
                        None => {
                            added.push((person, company, p["role"].as_str().map(str::to_owned)))
                        }
                    }
                }
            }
            let new: Vec<Participant> = added
                .into_iter()
                .map(|(person, company, role)| new_participant(db, person, company, role))
                .collect();
            let Some(a) = db.activities_mut(e).get_mut(id) else {
                return Ok(());
            };
            if let Some(v) = str_field(body, "title") {
                a.title = v.into();
            }
            if let Some(v) = str_field(body, "priority") {
                a.priority = v.into();
            }
            if let Some(v) = str_field(body, "status") {
                a.status = v.into();
            }
            if let Some(v) = str_field(body, "description") {
                a.description = Some(v.into());
            }
            if matches!(e, Ent::Meeting | Ent::Task | Ent::PhoneCall)
                && let Some(v) = str_field(body, "solution")
            {
                a.solution = Some(v.into());
            }
            if matches!(e, Ent::Meeting | Ent::Event)
                && let Some(v) = str_field(body, "meetingPlace")
            {
                a.place = Some(v.into());
            }
            a.deadline = deadline.or(a.deadline);
            if let Some(t) = str_field(body, "tags") {
                a.tags = t
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            if body.get("company").is_some() {
                a.company_id = links.0;
            }
            if body.get("businessCase").is_some() {
                a.business_case_id = links.1;
            }
            if body.get("project").is_some() {
                a.project_id = links.2;
            }
            a.from = from.or(a.from);
            a.till = till.or(a.till);
            a.completed = completed.or(a.completed);
            a.participants.retain(|p| !removed.contains(&p.id));
            for (pid, patch) in changed {
                if let Some(p) = a.participants.iter_mut().find(|p| p.id == pid) {
                    if let Some(o) = patch["owner"].as_bool() {
                        p.owner = o;
                    }
                    if let Ok(Some(x)) = id_field(&patch, "person") {
                        p.person = Some(x);
                    }
                    if let Ok(Some(x)) = id_field(&patch, "company") {
                        p.company = Some(x);
                    }
                    if let Some(r) = patch.get("role") {
                        p.role = r.as_str().map(str::to_owned);
                    }
                }
            }
            a.participants.extend(new);
            a.updated = Some(now);
            a.updated_by = Some(actor.username.clone());
            a.version += 1;
        }
    }
    Ok(())
}

fn add_ext(db: &mut Db, e: Ent, id: i64, body: &Value) -> WriteResult<()> {
    let ext = ext_from(body);
    let Some(i) = db.index(e, id) else {
        return Err((StatusCode::NOT_FOUND, json!({"message": "Not found"})));
    };
    let Some(x) = ext.first() else { return Ok(()) };
    if db.find_ext(e, x).is_some() {
        return Err(duplicate_ext());
    }
    if db.ext_ids_at(e, i).len() >= 10 {
        return Err(bad("At most 10 external ids per record"));
    }
    match e {
        Ent::Company => db.companies.rows[i].ext_ids.push(x.as_str().into()),
        Ent::Person => db.persons.rows[i].ext_ids.push(x.as_str().into()),
        Ent::BusinessCase | Ent::Project => db.deals_mut(e).rows[i].ext_ids.push(x.as_str().into()),
        Ent::Email | Ent::Meeting | Ent::Event | Ent::Task | Ent::PhoneCall | Ent::Letter => {
            db.activities_mut(e).rows[i].ext_ids.push(x.clone())
        }
    }
    Ok(())
}

fn delete(db: &mut Db, e: Ent, id: i64) -> WriteResult<Vec<String>> {
    let Some(i) = db.index(e, id) else {
        return Err((
            StatusCode::NOT_FOUND,
            json!({"message": format!("{} {id} was not found", e.entity_name())}),
        ));
    };
    let referenced = match e {
        Ent::Company => {
            db.persons.iter().any(|p| p.company_id == Some(id))
                || db.business_cases.iter().any(|d| d.company_id == id)
                || db.projects.iter().any(|d| d.company_id == id)
        }
        Ent::Person => db.users.iter().any(|u| u.person_id == id),
        _ => false,
    };
    if referenced {
        return Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "TranslatedApplicationException: exception.stillReferenced",
                   "translatedMessage": "Tento záznam nelze smazat - odkazují se na něj jiné záznamy."}),
        ));
    }
    let ext = db.ext_ids_at(e, i);
    match e {
        Ent::Company => drop(db.companies.remove(id)),
        Ent::Person => drop(db.persons.remove(id)),
        Ent::BusinessCase | Ent::Project => drop(db.deals_mut(e).remove(id)),
        Ent::Email | Ent::Meeting | Ent::Event | Ent::Task | Ent::PhoneCall | Ent::Letter => {
            drop(db.activities_mut(e).remove(id))
        }
    }
    Ok(ext)
}
