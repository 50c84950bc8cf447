//! The open Outlook item as the Office bindings hand it over (read or compose, message or
//! appointment), and what the pane derives from it: the addresses to suggest from, the ledger
//! query, the save request, and a name for an unknown attendee.

use crate::model::{
    Attachment, EmailInput, Links, Mailbox, MeetingInput,
    json::{self, Error, FromJson, Value},
};

/// A name and address.
pub type Address = Mailbox;

/// E-mail or meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A message.
    Email,
    /// An appointment.
    Meeting,
}

/// The open item (fields a surface lacks stay empty), as `web/js/office.js` hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct MailItem {
    /// E-mail or meeting.
    pub kind: ItemKind,
    /// Whether it is being composed.
    pub compose: bool,
    /// The mailbox owner's address (left out of suggestions).
    pub mailbox: String,
    /// Subject.
    pub subject: String,
    /// Sender (e-mail).
    pub from: Option<Address>,
    /// To (e-mail).
    pub to: Vec<Address>,
    /// Cc (e-mail).
    pub cc: Vec<Address>,
    /// Organizer (meeting).
    pub organizer: Option<Address>,
    /// Required attendees (meeting).
    pub required: Vec<Address>,
    /// Optional attendees (meeting).
    pub optional: Vec<Address>,
    /// Internet message id (e-mail).
    pub internet_message_id: String,
    /// Exchange item id.
    pub item_id: String,
    /// iCalendar UID (meeting).
    pub ical_uid: String,
    /// Sent (e-mail) as RFC 3339.
    pub sent_at: String,
    /// Start (meeting) as RFC 3339.
    pub start: String,
    /// End (meeting) as RFC 3339.
    pub end: String,
    /// Time zone of the meeting.
    pub time_zone: Option<String>,
    /// Location (meeting).
    pub location: String,
    /// Body as text.
    pub body_text: String,
    /// Attachments.
    pub attachments: Vec<Attachment>,
}

impl Default for MailItem {
    fn default() -> Self {
        Self {
            kind: ItemKind::Email,
            compose: false,
            mailbox: String::new(),
            subject: String::new(),
            from: None,
            to: Vec::new(),
            cc: Vec::new(),
            organizer: None,
            required: Vec::new(),
            optional: Vec::new(),
            internet_message_id: String::new(),
            item_id: String::new(),
            ical_uid: String::new(),
            sent_at: String::new(),
            start: String::new(),
            end: String::new(),
            time_zone: None,
            location: String::new(),
            body_text: String::new(),
            attachments: Vec::new(),
        }
    }
}

impl FromJson for MailItem {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let v = value.expect_object()?;
        let kind = match v.get("kind").as_str() {
            Some("meeting") => ItemKind::Meeting,
            Some("email") | None => ItemKind::Email,
            Some(_) => return Err(Error("unknown item kind")),
        };
        Ok(Self {
            kind,
            compose: v.field("compose")?,
            mailbox: v.field("mailbox")?,
            subject: v.field("subject")?,
            from: v.field("from")?,
            to: v.field("to")?,
            cc: v.field("cc")?,
            organizer: v.field("organizer")?,
            required: v.field("required")?,
            optional: v.field("optional")?,
            internet_message_id: v.field("internet_message_id")?,
            item_id: v.field("item_id")?,
            ical_uid: v.field("ical_uid")?,
            sent_at: v.field("sent_at")?,
            start: v.field("start")?,
            end: v.field("end")?,
            time_zone: v.field("time_zone")?,
            location: v.field("location")?,
            body_text: v.field("body_text")?,
            attachments: v.field("attachments")?,
        })
    }
}

fn nonempty(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

impl MailItem {
    /// Everyone on the item, in order of appearance.
    pub fn people(&self) -> Vec<&Address> {
        self.from
            .iter()
            .chain(&self.to)
            .chain(&self.cc)
            .chain(self.organizer.iter())
            .chain(&self.required)
            .chain(&self.optional)
            .collect()
    }

    /// The distinct addresses to ask `suggest` about (lower case, without the own mailbox).
    pub fn addresses(&self) -> Vec<String> {
        let own = self.mailbox.trim().to_lowercase();
        let mut out: Vec<String> = Vec::new();
        for a in self.people() {
            let email = a.email.trim().to_lowercase();
            if email.contains('@') && email != own && !out.contains(&email) {
                out.push(email);
            }
        }
        out
    }

    /// The query string for `GET /api/addin/logged` (best id first), if the item has an id.
    pub fn logged_query(&self) -> Option<String> {
        let by = match self.kind {
            ItemKind::Email => [
                ("internet_message_id", &self.internet_message_id),
                ("item_id", &self.item_id),
            ],
            ItemKind::Meeting => [("ical_uid", &self.ical_uid), ("item_id", &self.item_id)],
        };
        by.into_iter()
            .find_map(|(name, v)| nonempty(v).map(|v| [name, "=", &encode(v)].concat()))
    }

    /// The path and JSON body to save the item with `links`.
    pub fn save_request(&self, links: &Links) -> (&'static str, String) {
        let opt = |s: &str| nonempty(s).map(str::to_owned);
        match self.kind {
            ItemKind::Email => (
                "/api/addin/emails",
                json::to_string(&EmailInput {
                    internet_message_id: self.internet_message_id.trim().to_owned(),
                    item_id: opt(&self.item_id),
                    subject: self.subject.clone(),
                    from: self.from.clone().unwrap_or_default(),
                    to: self.to.clone(),
                    cc: self.cc.clone(),
                    sent_at: self.sent_at.trim().to_owned(),
                    body_text: self.body_text.clone(),
                    attachments: self.attachments.clone(),
                    links: links.clone(),
                }),
            ),
            ItemKind::Meeting => (
                "/api/addin/meetings",
                json::to_string(&MeetingInput {
                    ical_uid: opt(&self.ical_uid).or_else(|| opt(&self.item_id)),
                    item_id: opt(&self.item_id),
                    subject: self.subject.clone(),
                    start: self.start.clone(),
                    end: self.end.clone(),
                    time_zone: self.time_zone.clone(),
                    location: opt(&self.location),
                    organizer: self.organizer.clone().unwrap_or_default(),
                    required: self.required.clone(),
                    optional: self.optional.clone(),
                    body_text: self.body_text.clone(),
                    links: links.clone(),
                }),
            ),
        }
    }

    /// The display name known for `email` on this item.
    pub fn name_of(&self, email: &str) -> String {
        self.people()
            .into_iter()
            .find(|a| a.email.eq_ignore_ascii_case(email.trim()))
            .map(|a| a.name.trim().to_owned())
            .unwrap_or_default()
    }
}

/// First and last name for a new contact: from the display name ("Jana Nováková",
/// "Nováková, Jana"), else from the address ("jana.novakova@…" → "Jana", "Novakova").
pub fn split_name(display: &str, email: &str) -> (String, String) {
    let display = display.trim().trim_matches(['"', '\'']);
    if let Some((last, first)) = display.split_once(',') {
        return (first.trim().to_owned(), last.trim().to_owned());
    }
    if !display.is_empty() && !display.contains('@') {
        return match display.rsplit_once(' ') {
            Some((first, last)) => (first.trim().to_owned(), last.trim().to_owned()),
            None => (String::new(), display.to_owned()),
        };
    }
    let local = email.split('@').next().unwrap_or("");
    let mut parts = local
        .split(['.', '_', '-'])
        .filter(|p| !p.is_empty())
        .map(capitalize);
    let first = parts.next().unwrap_or_default();
    let rest: Vec<String> = parts.collect();
    if rest.is_empty() {
        (String::new(), first)
    } else {
        (first, rest.join(" "))
    }
}

/// Whether `address` belongs to a machine rather than a person (no-reply, newsletters, bounces,
/// notifications): such senders are not offered as new CRM contacts.
pub fn is_automated_sender(address: &str) -> bool {
    let local = address
        .split('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
        .replace(['-', '_', '.'], "");
    const MARKERS: [&str; 10] = [
        "noreply",
        "donotreply",
        "newsletter",
        "mailerdaemon",
        "postmaster",
        "bounce",
        "notification",
        "unsubscribe",
        "mailer",
        "nezasilat",
    ];
    MARKERS.iter().any(|m| local.contains(m))
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(name: &str, email: &str) -> Address {
        Address {
            name: name.into(),
            email: email.into(),
        }
    }

    #[test]
    fn suggestions_are_asked_for_each_address_once_without_the_own_mailbox() {
        let item = MailItem {
            mailbox: "me@firma.cz".into(),
            from: Some(a("Jan", "Jan.Novak@Vitkovice.cz")),
            to: vec![a("Me", "ME@firma.cz"), a("Jan", "jan.novak@vitkovice.cz")],
            cc: vec![a("Eva", "eva@abc.cz"), a("nobody", "not-an-address")],
            ..Default::default()
        };
        assert_eq!(
            item.addresses(),
            vec!["jan.novak@vitkovice.cz", "eva@abc.cz"]
        );
    }

    #[test]
    fn the_ledger_is_asked_by_message_id_or_ical_uid_and_falls_back_to_the_item_id() {
        let mut item = MailItem {
            internet_message_id: "<a+b@x>".into(),
            item_id: "AAM=".into(),
            ..Default::default()
        };
        assert_eq!(
            item.logged_query().unwrap(),
            "internet_message_id=%3Ca%2Bb%40x%3E"
        );
        item.internet_message_id.clear();
        assert_eq!(item.logged_query().unwrap(), "item_id=AAM%3D");
        let meeting = MailItem {
            kind: ItemKind::Meeting,
            ical_uid: "uid-1".into(),
            ..Default::default()
        };
        assert_eq!(meeting.logged_query().unwrap(), "ical_uid=uid-1");
        assert_eq!(MailItem::default().logged_query(), None);
    }

    #[test]
    fn save_requests_carry_the_item_and_the_links_for_each_kind() {
        let links = Links {
            company_id: Some(3),
            person_ids: vec![4],
            ..Default::default()
        };
        let email = MailItem {
            subject: "Offer".into(),
            internet_message_id: "<m@x>".into(),
            ..Default::default()
        };
        let (path, body) = email.save_request(&links);
        assert_eq!(path, "/api/addin/emails");
        let body = json::parse(&body).unwrap();
        assert_eq!(body.get("internet_message_id").as_str(), Some("<m@x>"));
        assert_eq!(body.field::<Links>("links"), Ok(links.clone()));
        let meeting = MailItem {
            kind: ItemKind::Meeting,
            item_id: "AAA".into(),
            required: vec![a("X", "x@y.cz")],
            ..Default::default()
        };
        let (path, body) = meeting.save_request(&links);
        assert_eq!(path, "/api/addin/meetings");
        let body = json::parse(&body).unwrap();
        assert_eq!(body.get("ical_uid").as_str(), Some("AAA"));
        assert_eq!(
            body.field::<Vec<Address>>("required"),
            Ok(vec![a("X", "x@y.cz")])
        );
    }

    #[test]
    fn the_item_from_office_js_reads_with_absent_fields_empty() {
        let text = r#"{"kind":"meeting","compose":false,"mailbox":"me@x.cz","subject":"Porada",
            "item_id":"AAA","organizer":{"name":"Jan","email":"jan@y.cz"},
            "required":[{"name":"","email":"eva@y.cz"}],"start":"2026-12-03T10:00:00.000Z",
            "time_zone":null,"attachments":[{"name":"a.pdf","size":12}]}"#;
        let item: MailItem = json::from_str(text).unwrap();
        assert_eq!(item.kind, ItemKind::Meeting);
        assert_eq!(item.organizer, Some(a("Jan", "jan@y.cz")));
        assert_eq!(item.addresses(), vec!["jan@y.cz", "eva@y.cz"]);
        assert_eq!(item.attachments[0].size, 12);
        assert_eq!(
            (item.from, item.time_zone, item.end.as_str()),
            (None, None, "")
        );
        assert!(json::from_str::<MailItem>(r#"{"kind":"fax"}"#).is_err());
    }

    #[test]
    fn machines_are_told_apart_from_people_by_their_address() {
        for machine in [
            "no-reply@shop.cz",
            "noreply@github.com",
            "do_not_reply@bank.cz",
            "newsletter@alza.cz",
            "Notifications@linkedin.com",
            "bounce-123@mail.example.com",
            "MAILER-DAEMON@mx.example.com",
        ] {
            assert!(is_automated_sender(machine), "{machine}");
        }
        // The domain never counts: only the mailbox name says "machine".
        for person in [
            "jana.novakova@firma.cz",
            "info@vitkovice.cz",
            "petr@noreply-firm.cz",
        ] {
            assert!(!is_automated_sender(person), "{person}");
        }
    }

    #[test]
    fn new_contacts_get_names_from_the_display_name_or_the_address() {
        assert_eq!(
            split_name("Jana Nováková", "j@x"),
            ("Jana".into(), "Nováková".into())
        );
        assert_eq!(
            split_name("Nováková, Jana", "j@x"),
            ("Jana".into(), "Nováková".into())
        );
        assert_eq!(
            split_name("", "petr.dvorak@x.cz"),
            ("Petr".into(), "Dvorak".into())
        );
        assert_eq!(
            split_name("info@x.cz", "info@x.cz"),
            (String::new(), "Info".into())
        );
    }
}
