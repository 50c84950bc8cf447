//! A calendar event as we plan it, and its Graph JSON. Times are sent in UTC, converted from the
//! CRM's wall-clock times with the zone's rules on that date, so DST is right on both sides of a
//! change; reading accepts any zone Graph may answer in.

use serde_json::{Value, json};

use super::crm_property_id;

/// An attendee of an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attendee {
    /// E-mail address.
    pub address: String,
    /// Display name.
    pub name: String,
}

/// What an event should show; the same draft always gives the same JSON (see [`Self::to_json`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    /// Subject line.
    pub subject: String,
    /// Body (HTML).
    pub body_html: String,
    /// Start instant.
    pub start: jiff::Timestamp,
    /// End instant.
    pub end: jiff::Timestamp,
    /// Location text.
    pub location: Option<String>,
    /// Attendees (empty: Outlook e-mails nobody).
    pub attendees: Vec<Attendee>,
    /// Categories (display names of the mailbox's master categories).
    pub categories: Vec<String>,
}

/// Graph's `dateTimeTimeZone` for an instant, in UTC.
pub fn graph_time(t: jiff::Timestamp) -> Value {
    let civil = t.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    json!({
        "dateTime": format!("{}.0000000", civil.strftime("%Y-%m-%dT%H:%M:%S")),
        "timeZone": "UTC",
    })
}

/// Windows zone names Graph may answer in, with their IANA zone.
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
    ("Central Europe Standard Time", "Europe/Prague"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("GMT Standard Time", "Europe/London"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kyiv"),
    ("Eastern Standard Time", "America/New_York"),
    ("Pacific Standard Time", "America/Los_Angeles"),
];

/// The zone named `name` (IANA or a Windows name).
fn zone(name: &str) -> Option<jiff::tz::TimeZone> {
    let name = name.trim();
    let iana = WINDOWS_ZONES
        .iter()
        .find(|(windows, _)| windows.eq_ignore_ascii_case(name))
        .map_or(name, |(_, iana)| iana);
    jiff::tz::TimeZone::get(iana).ok()
}

/// The instant of a Graph `dateTimeTimeZone` (IANA or Windows zone names).
pub fn parse_graph_time(value: &Value) -> Option<jiff::Timestamp> {
    let text = value["dateTime"].as_str()?.trim_end_matches('Z');
    let zone = zone(value["timeZone"].as_str().unwrap_or("UTC"))?;
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    civil.to_zoned(zone).ok().map(|z| z.timestamp())
}

impl EventDraft {
    /// The fields an update sends (everything the event shows; attendees always, so that
    /// removing the last one is written too).
    pub fn to_json(&self) -> Value {
        let attendees: Vec<Value> = self
            .attendees
            .iter()
            .map(|a| {
                json!({
                    "emailAddress": {"address": a.address, "name": a.name},
                    "type": "required",
                })
            })
            .collect();
        json!({
            "subject": self.subject,
            "body": {"contentType": "html", "content": self.body_html},
            "start": graph_time(self.start),
            "end": graph_time(self.end),
            "location": {"displayName": self.location.clone().unwrap_or_default()},
            "attendees": attendees,
            "categories": self.categories,
            "isReminderOn": true,
            "showAs": "busy",
        })
    }

    /// The create body: [`Self::to_json`] plus the `transactionId` and our CRM id as an extended
    /// property.
    pub fn create_json(&self, crm_id: &str, transaction_id: &str) -> Value {
        let mut body = self.to_json();
        body["transactionId"] = json!(transaction_id);
        body["singleValueExtendedProperties"] = json!([{
            "id": crm_property_id(),
            "value": crm_id,
        }]);
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prague(text: &str) -> jiff::Timestamp {
        let civil: jiff::civil::DateTime = text.parse().unwrap();
        civil
            .to_zoned(jiff::tz::TimeZone::get("Europe/Prague").unwrap())
            .unwrap()
            .timestamp()
    }

    #[test]
    fn a_prague_morning_is_sent_as_utc_on_both_sides_of_the_spring_change() {
        assert_eq!(
            graph_time(prague("2026-03-28T09:00"))["dateTime"],
            "2026-03-28T08:00:00.0000000"
        );
        assert_eq!(
            graph_time(prague("2026-03-29T09:00"))["dateTime"],
            "2026-03-29T07:00:00.0000000"
        );
        assert_eq!(graph_time(prague("2026-03-29T09:00"))["timeZone"], "UTC");
    }

    #[test]
    fn graph_times_in_windows_and_iana_zones_read_back_as_the_same_instant() {
        let expected = prague("2026-10-25T09:00");
        for zone in ["Central Europe Standard Time", "Europe/Prague"] {
            let v = json!({"dateTime": "2026-10-25T09:00:00.0000000", "timeZone": zone});
            assert_eq!(parse_graph_time(&v), Some(expected), "{zone}");
        }
        let utc = json!({"dateTime": "2026-10-25T08:00:00.0000000", "timeZone": "UTC"});
        assert_eq!(parse_graph_time(&utc), Some(expected));
        assert_eq!(
            parse_graph_time(&json!({"dateTime": "x", "timeZone": "UTC"})),
            None
        );
    }

    #[test]
    fn the_create_body_carries_the_transaction_id_and_the_crm_id_property() {
        let draft = EventDraft {
            subject: "Demo".into(),
            body_html: "<p>x</p>".into(),
            start: prague("2026-09-01T09:00"),
            end: prague("2026-09-01T10:00"),
            location: None,
            attendees: vec![Attendee {
                address: "jan@acme.cz".into(),
                name: "Jan".into(),
            }],
            categories: vec!["Raynet".into()],
        };
        let body = draft.create_json("crm:meeting:5", "tx-1");
        assert_eq!(body["transactionId"], "tx-1");
        assert_eq!(
            body["singleValueExtendedProperties"][0]["value"],
            "crm:meeting:5"
        );
        assert_eq!(
            body["singleValueExtendedProperties"][0]["id"],
            crm_property_id()
        );
        assert_eq!(
            body["attendees"][0]["emailAddress"]["address"],
            "jan@acme.cz"
        );
        assert!(draft.to_json().get("transactionId").is_none());
    }
}
