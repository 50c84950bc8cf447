//! The simulator's records, kept compact (a million companies fit in memory), and the sample
//! data generator: Czech and international company names with diacritics, IČO with a valid
//! checksum and DIČ, persons with e-mails on their company's domain, projects and business
//! cases. Deterministic: the same options and seed give the same data.

use std::collections::HashSet;

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::Serialize;
use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// 2024-01-01T00:00:00Z in Unix ms: generated records were created after it.
const EPOCH_MS: i64 = 1_704_067_200_000;

/// A client firm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// Id.
    pub id: i64,
    /// Name with legal form, e.g. "Strojírny Třinec a.s.".
    pub name: Box<str>,
    /// Web and e-mail domain, e.g. "strojirnytrinec.cz" (empty: none).
    pub domain: Box<str>,
    /// IČO as a number (8 digits with leading zeros when printed); `None` for foreign firms.
    pub reg_number: Option<u32>,
    /// Main e-mail when it is not `info@{domain}`.
    pub email: Option<Box<str>>,
    /// Index into [`CITIES`].
    pub city: u16,
    /// House number.
    pub street_no: u16,
    /// Index into the state/role/rating enums.
    pub state: u8,
    /// Index into the role enum.
    pub role: u8,
    /// Index into the rating enum.
    pub rating: u8,
    /// Created (Unix ms).
    pub created: i64,
    /// Last updated (Unix ms), `None` if never.
    pub updated: Option<i64>,
    /// Optimistic-lock counter.
    pub version: u32,
    /// Invalidated ("soft deleted").
    pub invalid: bool,
    /// External ids.
    pub ext_ids: Vec<Box<str>>,
}

impl Company {
    /// The main e-mail address.
    pub fn main_email(&self) -> Option<String> {
        match (&self.email, self.domain.is_empty()) {
            (Some(e), _) => Some(e.to_string()),
            (None, false) => Some(format!("info@{}", self.domain)),
            (None, true) => None,
        }
    }

    /// IČO with leading zeros.
    pub fn ico(&self) -> Option<String> {
        self.reg_number.map(|n| format!("{n:08}"))
    }
}

/// A contact person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Id.
    pub id: i64,
    /// Given name.
    pub first: Box<str>,
    /// Family name.
    pub last: Box<str>,
    /// Primary company.
    pub company_id: Option<i64>,
    /// E-mail address.
    pub email: Option<Box<str>>,
    /// Female (for the salutation and gender).
    pub female: bool,
    /// Created (Unix ms).
    pub created: i64,
    /// Last updated (Unix ms).
    pub updated: Option<i64>,
    /// Optimistic-lock counter.
    pub version: u32,
    /// Invalidated.
    pub invalid: bool,
    /// External ids.
    pub ext_ids: Vec<Box<str>>,
}

impl Person {
    /// "First Last".
    pub fn full_name(&self) -> String {
        if self.first.is_empty() {
            self.last.to_string()
        } else {
            format!("{} {}", self.first, self.last)
        }
    }
}

/// A business case or a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deal {
    /// Id.
    pub id: i64,
    /// Code such as "OP-24-0001" or "PRO-24-0001".
    pub code: Box<str>,
    /// Name.
    pub name: Box<str>,
    /// Client.
    pub company_id: i64,
    /// Contact person.
    pub person_id: Option<i64>,
    /// Status group: B_ACTIVE, E_WIN, F_LOST, G_STORNO (cases) or B_ACTIVE, D_DONE (projects).
    pub status: &'static str,
    /// Amount in CZK.
    pub amount: u32,
    /// Created (Unix ms).
    pub created: i64,
    /// Last updated (Unix ms).
    pub updated: Option<i64>,
    /// Optimistic-lock counter.
    pub version: u32,
    /// Invalidated.
    pub invalid: bool,
    /// External ids.
    pub ext_ids: Vec<Box<str>>,
}

/// A participant of an activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    /// Row id.
    pub id: i64,
    /// The owner's row.
    pub owner: bool,
    /// FROM, TO or none.
    pub role: Option<String>,
    /// Display name.
    pub name: String,
    /// Person id.
    pub person: Option<i64>,
    /// Company id.
    pub company: Option<i64>,
    /// Lead id.
    pub lead: Option<i64>,
    /// E-mail address.
    pub email: Option<String>,
}

/// An activity: e-mail, meeting, event, task, phone call or letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// Id.
    pub id: i64,
    /// `email`, `meeting`, `event`, `task`, `phoneCall` or `letter`.
    pub kind: &'static str,
    /// Subject.
    pub title: String,
    /// Owner (person id of a user).
    pub owner_id: i64,
    /// MINOR, DEFAULT, CRITICAL.
    pub priority: String,
    /// NEW, SCHEDULED, COMPLETED, CANCELLED.
    pub status: String,
    /// Context: company.
    pub company_id: Option<i64>,
    /// Context: person.
    pub person_id: Option<i64>,
    /// Context: business case.
    pub business_case_id: Option<i64>,
    /// Context: project.
    pub project_id: Option<i64>,
    /// Start (Unix ms).
    pub from: Option<i64>,
    /// End (Unix ms).
    pub till: Option<i64>,
    /// Completed (Unix ms).
    pub completed: Option<i64>,
    /// Deadline (tasks; Unix ms).
    pub deadline: Option<i64>,
    /// Body.
    pub description: Option<String>,
    /// Outcome (meetings).
    pub solution: Option<String>,
    /// Place (meetings).
    pub place: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Participants, the owner included.
    pub participants: Vec<Participant>,
    /// External ids.
    pub ext_ids: Vec<String>,
    /// Created (Unix ms).
    pub created: i64,
    /// Who created it (login).
    pub created_by: String,
    /// Last updated (Unix ms).
    pub updated: Option<i64>,
    /// Who updated it last.
    pub updated_by: Option<String>,
    /// Optimistic-lock counter.
    pub version: u32,
}

/// A CRM user with an API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimUser {
    /// User account id.
    pub account_id: i64,
    /// The user's person id (the `owner` of activities).
    pub person_id: i64,
    /// Login e-mail.
    pub username: String,
    /// API key.
    pub api_key: String,
    /// The API key's name (shown as the webhook source).
    pub key_name: String,
    /// ADMIN, FULL_THROTTLE or READONLY (READONLY users cannot write).
    pub role: String,
}

/// A registered webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    /// Its uuid.
    pub uuid: String,
    /// Where events go.
    pub url: String,
    /// Sent as `X-RAYNETCRM-Token`.
    pub secret_token: Option<String>,
    /// Event types.
    pub events: Vec<String>,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenOptions {
    /// Companies.
    pub companies: usize,
    /// Persons per company.
    pub persons_per_company: usize,
    /// Business cases per company.
    pub business_cases_per_company: usize,
    /// Projects per company.
    pub projects_per_company: usize,
    /// Seed.
    pub seed: u64,
}

/// Generated records (ids start at 1, in id order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generated {
    /// Companies.
    pub companies: Vec<Company>,
    /// Persons.
    pub persons: Vec<Person>,
    /// Business cases.
    pub business_cases: Vec<Deal>,
    /// Projects.
    pub projects: Vec<Deal>,
}

/// Czech and Slovak cities.
pub const CITIES: [(&str, &str, &str); 16] = [
    ("Praha", "110 00", "Hlavní město Praha"),
    ("Brno", "602 00", "Jihomoravský kraj"),
    ("Ostrava", "702 00", "Moravskoslezský kraj"),
    ("Plzeň", "301 00", "Plzeňský kraj"),
    ("Liberec", "460 01", "Liberecký kraj"),
    ("Olomouc", "779 00", "Olomoucký kraj"),
    ("České Budějovice", "370 01", "Jihočeský kraj"),
    ("Hradec Králové", "500 02", "Královéhradecký kraj"),
    ("Ústí nad Labem", "400 01", "Ústecký kraj"),
    ("Pardubice", "530 02", "Pardubický kraj"),
    ("Zlín", "760 01", "Zlínský kraj"),
    ("Jihlava", "586 01", "Kraj Vysočina"),
    ("Karlovy Vary", "360 01", "Karlovarský kraj"),
    ("Třinec", "739 61", "Moravskoslezský kraj"),
    ("Frýdek-Místek", "738 01", "Moravskoslezský kraj"),
    ("Žďár nad Sázavou", "591 01", "Kraj Vysočina"),
];

/// Streets.
pub const STREETS: [&str; 12] = [
    "Masarykova",
    "Nádražní",
    "Husova",
    "Palackého",
    "Žižkova",
    "Komenského",
    "Šumavská",
    "Čs. armády",
    "Třída Svobody",
    "Dělnická",
    "Průmyslová",
    "Na Příkopě",
];

const SYLLABLES: [&str; 40] = [
    "no", "vá", "kr", "ři", "še", "ma", "lo", "žá", "dí", "ťo", "bě", "ra", "te", "ch", "lu", "pe",
    "st", "ro", "mí", "ko", "ze", "vo", "ly", "ča", "sk", "ná", "dů", "bo", "ře", "li", "ha", "to",
    "ně", "ve", "jí", "mo", "rů", "ka", "si", "úd",
];

const INDUSTRIES: [&str; 24] = [
    "Stavby",
    "Strojírny",
    "Železárny",
    "Pekárna",
    "Účetnictví",
    "Řeznictví",
    "Dřevovýroba",
    "Sklárny",
    "Elektro",
    "Doprava",
    "Logistika",
    "Software",
    "Tiskárna",
    "Zahradnictví",
    "Nábytek",
    "Kovovýroba",
    "Reality",
    "Poradenství",
    "Textil",
    "Chemie",
    "Energie",
    "Služby",
    "Obchod",
    "Technika",
];

const CZ_FORMS: [&str; 5] = ["s.r.o.", "a.s.", "spol. s r.o.", "v.o.s.", "k.s."];

const INTL_WORDS: [&str; 16] = [
    "Müller",
    "Nordström",
    "Søren",
    "Łukasiewicz",
    "Alpine",
    "Nordic",
    "Gómez",
    "Brăila",
    "Kovács",
    "Östberg",
    "Dubois",
    "Zürich",
    "Hämäläinen",
    "Ørsted",
    "Wiśniewski",
    "Lindqvist",
];

const INTL_INDUSTRIES: [&str; 10] = [
    "Logistik",
    "Design",
    "Systems",
    "Trading",
    "Maschinenbau",
    "Consulting",
    "Foods",
    "Engineering",
    "Solutions",
    "Industrie",
];

const INTL_FORMS: [(&str, &str); 7] = [
    ("GmbH", "de"),
    ("AG", "at"),
    ("Ltd.", "co.uk"),
    ("Inc.", "com"),
    ("AB", "se"),
    ("S.A.", "fr"),
    ("Kft.", "hu"),
];

const MALE_FIRST: [&str; 16] = [
    "Jiří",
    "Petr",
    "Tomáš",
    "Lukáš",
    "Jan",
    "Martin",
    "Josef",
    "Pavel",
    "Jaroslav",
    "Miroslav",
    "Zdeněk",
    "Václav",
    "Michal",
    "František",
    "Radek",
    "Ondřej",
];

const FEMALE_FIRST: [&str; 16] = [
    "Eva",
    "Jana",
    "Kateřina",
    "Lucie",
    "Zdeňka",
    "Marie",
    "Hana",
    "Věra",
    "Alena",
    "Lenka",
    "Tereza",
    "Barbora",
    "Michaela",
    "Šárka",
    "Markéta",
    "Irena",
];

const LAST: [(&str, &str); 20] = [
    ("Novák", "Nováková"),
    ("Dvořák", "Dvořáková"),
    ("Černý", "Černá"),
    ("Procházka", "Procházková"),
    ("Kučera", "Kučerová"),
    ("Veselý", "Veselá"),
    ("Horák", "Horáková"),
    ("Němec", "Němcová"),
    ("Pokorný", "Pokorná"),
    ("Marek", "Marková"),
    ("Růžička", "Růžičková"),
    ("Šťastný", "Šťastná"),
    ("Kříž", "Křížová"),
    ("Fiala", "Fialová"),
    ("Zeman", "Zemanová"),
    ("Doležal", "Doležalová"),
    ("Hájek", "Hájková"),
    ("Král", "Králová"),
    ("Beneš", "Benešová"),
    ("Čermák", "Čermáková"),
];

const DEAL_WORDS: [&str; 12] = [
    "Dodávka strojů",
    "Rekonstrukce haly",
    "Servisní smlouva",
    "Implementace ERP",
    "Školení obsluhy",
    "Výměna oken",
    "Revize elektro",
    "Licence software",
    "Údržba zeleně",
    "Přeprava zboží",
    "Audit účetnictví",
    "Návrh loga",
];

/// Strips diacritics: "Třinec" → "Trinec".
pub fn fold(s: &str) -> String {
    s.nfd().filter(|c| !is_combining_mark(*c)).collect()
}

/// Lowercase ASCII letters and digits only, for domains and mailbox names.
pub fn slug(s: &str) -> String {
    fold(s)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The Czech IČO check digit for the first seven digits.
pub fn ico_check_digit(first7: u32) -> u32 {
    let mut sum = 0;
    let mut rest = first7;
    // Weights 2..=8 from the last digit to the first.
    for weight in 2..=8 {
        sum += (rest % 10) * weight;
        rest /= 10;
    }
    match sum % 11 {
        0 => 1,
        1 => 0,
        r => 11 - r,
    }
}

/// Whether `ico` is eight digits with a valid check digit.
pub fn ico_is_valid(ico: &str) -> bool {
    if ico.len() != 8 || !ico.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(n) = ico.parse::<u32>() else {
        return false;
    };
    ico_check_digit(n / 10) == n % 10
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn invented_word(rng: &mut StdRng) -> String {
    let n = rng.random_range(2..=3);
    let mut w = String::with_capacity(12);
    for _ in 0..n {
        w.push_str(SYLLABLES[rng.random_range(0..SYLLABLES.len())]);
    }
    capitalized(&w)
}

/// Generates the sample data for `options`.
pub fn generate(options: &GenOptions) -> Generated {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut out = Generated {
        companies: Vec::with_capacity(options.companies),
        ..Generated::default()
    };
    let mut domains: HashSet<u64> = HashSet::with_capacity(options.companies);
    // IČO prefixes walk a permutation of 0..10^7 (7919 is coprime with 10^7): unique per company.
    let ico_offset = rng.random_range(0..10_000_000u64);
    for i in 0..options.companies {
        let id = i as i64 + 1;
        let international = rng.random_ratio(1, 8);
        let (name, base, tld) = if international {
            let word = INTL_WORDS[rng.random_range(0..INTL_WORDS.len())];
            let industry = INTL_INDUSTRIES[rng.random_range(0..INTL_INDUSTRIES.len())];
            let (form, tld) = INTL_FORMS[rng.random_range(0..INTL_FORMS.len())];
            let extra = invented_word(&mut rng);
            (
                format!("{word} {extra} {industry} {form}"),
                format!("{word}{extra}"),
                tld,
            )
        } else {
            let form = CZ_FORMS[rng.random_range(0..CZ_FORMS.len())];
            let industry = INDUSTRIES[rng.random_range(0..INDUSTRIES.len())];
            let word = invented_word(&mut rng);
            if rng.random_bool(0.5) {
                let city = CITIES[rng.random_range(0..CITIES.len())].0;
                (
                    format!("{industry} {word} {city} {form}"),
                    format!("{industry}{word}"),
                    "cz",
                )
            } else {
                (
                    format!("{word} {industry} {form}"),
                    format!("{word}{industry}"),
                    "cz",
                )
            }
        };
        let base = slug(&base);
        let mut domain = format!("{base}.{tld}");
        let mut n = 2;
        while !domains.insert(hash(&domain)) {
            domain = format!("{base}{n}.{tld}");
            n += 1;
        }
        let first7 = ((i as u64 * 7919 + ico_offset) % 10_000_000) as u32;
        let created = EPOCH_MS + i as i64 * 1_000 + rng.random_range(0..1_000);
        out.companies.push(Company {
            id,
            name: name.into(),
            domain: domain.into(),
            reg_number: (!international).then(|| first7 * 10 + ico_check_digit(first7)),
            email: None,
            city: rng.random_range(0..CITIES.len() as u16),
            street_no: rng.random_range(1..2000),
            state: rng.random_range(0..4),
            role: rng.random_range(0..4),
            rating: rng.random_range(0..3),
            created,
            updated: rng
                .random_bool(0.3)
                .then(|| created + rng.random_range(60_000..86_400_000)),
            version: 1,
            invalid: rng.random_ratio(1, 50),
            ext_ids: Vec::new(),
        });
    }
    let mut person_id = 0;
    let mut case_id = 0;
    let mut project_id = 0;
    for company in &out.companies {
        let mut first_person = None;
        let mut used: Vec<String> = Vec::new();
        for _ in 0..options.persons_per_company {
            person_id += 1;
            let female = rng.random_bool(0.5);
            let first = if female {
                FEMALE_FIRST[rng.random_range(0..FEMALE_FIRST.len())]
            } else {
                MALE_FIRST[rng.random_range(0..MALE_FIRST.len())]
            };
            let (male_last, female_last) = LAST[rng.random_range(0..LAST.len())];
            let last = if female { female_last } else { male_last };
            let mut local = format!("{}.{}", slug(first), slug(last));
            let mut n = 2;
            while used.contains(&local) {
                local = format!("{}.{}{n}", slug(first), slug(last));
                n += 1;
            }
            used.push(local.clone());
            first_person.get_or_insert(person_id);
            out.persons.push(Person {
                id: person_id,
                first: first.into(),
                last: last.into(),
                company_id: Some(company.id),
                email: Some(format!("{local}@{}", company.domain).into()),
                female,
                created: company.created + 1,
                updated: None,
                version: 1,
                invalid: false,
                ext_ids: Vec::new(),
            });
        }
        for _ in 0..options.business_cases_per_company {
            case_id += 1;
            let status = [
                "B_ACTIVE", "B_ACTIVE", "B_ACTIVE", "E_WIN", "F_LOST", "G_STORNO",
            ][rng.random_range(0..6)];
            out.business_cases.push(deal(
                &mut rng,
                case_id,
                format!("OP-24-{case_id:04}"),
                company,
                first_person,
                status,
            ));
        }
        for _ in 0..options.projects_per_company {
            project_id += 1;
            let status = ["B_ACTIVE", "B_ACTIVE", "D_DONE"][rng.random_range(0..3)];
            out.projects.push(deal(
                &mut rng,
                project_id,
                format!("PRO-24-{project_id:04}"),
                company,
                first_person,
                status,
            ));
        }
    }
    out
}

fn deal(
    rng: &mut StdRng,
    id: i64,
    code: String,
    company: &Company,
    person_id: Option<i64>,
    status: &'static str,
) -> Deal {
    let what = DEAL_WORDS[rng.random_range(0..DEAL_WORDS.len())];
    let short = company.name.split(' ').next().unwrap_or_default();
    Deal {
        id,
        code: code.into(),
        name: format!("{what} – {short}").into(),
        company_id: company.id,
        person_id,
        status,
        amount: rng.random_range(1..500) * 1000,
        created: company.created + 2,
        updated: None,
        version: 1,
        invalid: false,
        ext_ids: Vec::new(),
    }
}

fn hash(s: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(s)
}
