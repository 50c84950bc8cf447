//! Raynet's JSON as it travels: the envelope (with `success` as `true` or `"true"`), the flat
//! `rowInfo.*` keys, references as small objects, error bodies, and the mapping of records into
//! our [`CrmRecord`]. Fields are optional and unknown ones ignored, because detail answers leave
//! out empty values.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

use crate::crm::{
    ActivityKind, ActivityLinks, ActivityParticipant, ActivityStatus, CrmActivity, CrmRecord,
    RecordKind, TimedActivity, TimedActivityKind,
};

/// `true`, `"true"` (detail answers), `false` or `"false"`.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<Flag>::deserialize(d)? {
        None => None,
        Some(Flag::Bool(b)) => Some(b),
        Some(Flag::Text(s)) => Some(matches!(s.trim(), "true" | "1" | "yes" | "on")),
    })
}

/// Every answer: `{success, totalCount?, data?}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Envelope<T> {
    #[serde(default, deserialize_with = "lenient_bool")]
    pub(crate) success: Option<bool>,
    pub(crate) total_count: Option<u64>,
    pub(crate) data: Option<T>,
    pub(crate) message: Option<String>,
}

/// A record as `view=rowInfo` lists it: its id and state only.
#[derive(Debug, Deserialize)]
pub(crate) struct RowState {
    pub(crate) id: i64,
}

/// An error body: `{message, translatedMessage}` (HTTP 500 and others) or
/// `{type, message}` (429).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorBody {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) translated_message: Option<String>,
}

impl ErrorBody {
    /// The most helpful text: the translated message with the technical one, or either.
    pub(crate) fn text(&self) -> String {
        match (&self.message, &self.translated_message) {
            (Some(m), Some(t)) if !t.is_empty() => format!("{t} ({m})"),
            (Some(m), _) => m.clone(),
            (None, Some(t)) => t.clone(),
            (None, None) => String::new(),
        }
    }
}

/// A reference to another record: `{id, name}`, `{id, fullName}`, `{id, value}`, `{id, code, name}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Ref {
    pub(crate) id: Option<i64>,
    pub(crate) name: Option<String>,
    pub(crate) full_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ContactInfo {
    pub(crate) email: Option<String>,
    pub(crate) email2: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CompanyAddress {
    pub(crate) contact_info: Option<ContactInfo>,
}

/// The `rowInfo.*` keys, flat in every record.
#[derive(Debug, Deserialize)]
pub(crate) struct RowInfo {
    #[serde(rename = "rowInfo.createdAt")]
    pub(crate) created_at: Option<String>,
    #[serde(rename = "rowInfo.updatedAt")]
    pub(crate) updated_at: Option<String>,
    #[serde(rename = "rowInfo.rowAccess")]
    pub(crate) row_access: Option<String>,
    #[serde(rename = "securityLevel")]
    pub(crate) security_level: Option<Ref>,
}

impl RowInfo {
    fn changed(&self) -> Option<DateTime<Utc>> {
        self.updated_at
            .as_deref()
            .and_then(parse_time)
            .or_else(|| self.created_at.as_deref().and_then(parse_time))
    }

    fn valid(&self) -> bool {
        self.row_access.as_deref() != Some("INVALID")
    }

    fn level(&self) -> Option<i64> {
        self.security_level.as_ref().and_then(|l| l.id)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Company {
    pub(crate) id: i64,
    pub(crate) name: Option<String>,
    pub(crate) reg_number: Option<String>,
    pub(crate) primary_address: Option<CompanyAddress>,
    pub(crate) contact_address: Option<CompanyAddress>,
    pub(crate) addresses: Option<Vec<CompanyAddress>>,
    #[serde(flatten)]
    pub(crate) row: RowInfo,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Relationship {
    pub(crate) company: Option<Ref>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Person {
    pub(crate) id: i64,
    pub(crate) title_before: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) title_after: Option<String>,
    pub(crate) primary_relationship: Option<Relationship>,
    pub(crate) contact_info: Option<ContactInfo>,
    #[serde(flatten)]
    pub(crate) row: RowInfo,
}

/// A business case or a project: both have a code, a name, a client and a status group.
#[derive(Debug, Deserialize)]
pub(crate) struct Deal {
    pub(crate) id: i64,
    pub(crate) code: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) company: Option<Ref>,
    pub(crate) status: Option<String>,
    #[serde(flatten)]
    pub(crate) row: RowInfo,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Participant {
    pub(crate) id: Option<i64>,
    pub(crate) owner: Option<bool>,
    pub(crate) name: Option<String>,
    pub(crate) person: Option<i64>,
    pub(crate) company: Option<i64>,
    pub(crate) email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Activity {
    pub(crate) id: i64,
    pub(crate) title: Option<String>,
    pub(crate) owner: Option<Ref>,
    pub(crate) company: Option<Ref>,
    pub(crate) person: Option<Ref>,
    pub(crate) business_case: Option<Ref>,
    pub(crate) project: Option<Ref>,
    pub(crate) scheduled_from: Option<String>,
    pub(crate) scheduled_till: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) meeting_place: Option<String>,
    pub(crate) participants: Option<Vec<Participant>>,
    pub(crate) ext_ids: Option<Vec<String>>,
    pub(crate) deadline: Option<String>,
    pub(crate) status: Option<String>,
    #[serde(flatten)]
    pub(crate) row: RowInfo,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserAccount {
    pub(crate) id: i64,
    pub(crate) username: Option<String>,
    pub(crate) person: Option<Ref>,
    pub(crate) user_role: Option<String>,
    pub(crate) security_levels: Option<Vec<Ref>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Inserted {
    pub(crate) id: i64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WebhookInserted {
    pub(crate) uuid: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WebhookList {
    #[serde(default)]
    pub(crate) webhooks: Vec<Webhook>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Webhook {
    pub(crate) webhook_id: String,
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) events_filter: Vec<String>,
}

/// Parses `2022-01-01T12:00:00.000+01:00` (asked for with `dateFormat=ISO8601`), or the
/// default `yyyy-MM-dd HH:mm` taken as UTC.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
                .ok()
                .map(|n| n.and_utc())
        })
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn push_email(out: &mut Vec<String>, email: Option<&str>) {
    if let Some(e) = email.map(str::trim).filter(|e| e.contains('@')) {
        let e = e.to_lowercase();
        if !out.contains(&e) {
            out.push(e);
        }
    }
}

fn push_contact(out: &mut Vec<String>, info: Option<&ContactInfo>) {
    if let Some(info) = info {
        push_email(out, info.email.as_deref());
        push_email(out, info.email2.as_deref());
    }
}

impl Company {
    pub(crate) fn into_record(self) -> CrmRecord {
        let mut emails = Vec::new();
        for address in [&self.primary_address, &self.contact_address]
            .into_iter()
            .flatten()
            .chain(self.addresses.iter().flatten())
        {
            push_contact(&mut emails, address.contact_info.as_ref());
        }
        let reg_number = non_empty(self.reg_number);
        CrmRecord {
            kind: RecordKind::Company,
            id: self.id,
            name: non_empty(self.name).unwrap_or_default(),
            subtitle: reg_number.as_ref().map(|r| format!("IČO {r}")),
            emails,
            company_id: None,
            company_name: None,
            reg_number,
            open: self.row.valid(),
            updated_at: self.row.changed(),
            security_level: self.row.level(),
        }
    }
}

impl Person {
    pub(crate) fn into_record(self) -> CrmRecord {
        let name = [
            &self.title_before,
            &self.first_name,
            &self.last_name,
            &self.title_after,
        ]
        .into_iter()
        .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
        .collect::<Vec<_>>()
        .join(" ");
        let mut emails = Vec::new();
        push_contact(&mut emails, self.contact_info.as_ref());
        let company = self.primary_relationship.and_then(|r| r.company);
        let company_name = company.as_ref().and_then(|c| non_empty(c.name.clone()));
        CrmRecord {
            kind: RecordKind::Person,
            id: self.id,
            name,
            subtitle: company_name.clone(),
            emails,
            company_id: company.as_ref().and_then(|c| c.id),
            company_name,
            reg_number: None,
            open: self.row.valid(),
            updated_at: self.row.changed(),
            security_level: self.row.level(),
        }
    }
}

/// Status groups that mean a business case or project is finished.
const CLOSED_STATUSES: [&str; 4] = ["D_DONE", "E_WIN", "F_LOST", "G_STORNO"];

impl Deal {
    pub(crate) fn into_record(self, kind: RecordKind) -> CrmRecord {
        let closed = self
            .status
            .as_deref()
            .is_some_and(|s| CLOSED_STATUSES.contains(&s));
        let company_name = self
            .company
            .as_ref()
            .and_then(|c| non_empty(c.name.clone()));
        CrmRecord {
            kind,
            id: self.id,
            name: non_empty(self.name).unwrap_or_default(),
            subtitle: non_empty(self.code),
            emails: Vec::new(),
            company_id: self.company.as_ref().and_then(|c| c.id),
            company_name,
            reg_number: None,
            open: !closed && self.row.valid(),
            updated_at: self.row.changed(),
            security_level: self.row.level(),
        }
    }
}

fn ref_id(r: &Option<Ref>) -> Option<i64> {
    r.as_ref().and_then(|r| r.id)
}

fn participants_of(list: Option<Vec<Participant>>) -> Vec<ActivityParticipant> {
    list.unwrap_or_default()
        .into_iter()
        .map(|p| ActivityParticipant {
            id: p.id,
            owner: p.owner.unwrap_or(false),
            person_id: p.person,
            company_id: p.company,
            name: p.name,
            email: p.email,
        })
        .collect()
}

fn status_of(status: Option<&str>) -> Option<ActivityStatus> {
    match status? {
        "NEW" => Some(ActivityStatus::New),
        "SCHEDULED" => Some(ActivityStatus::Scheduled),
        "COMPLETED" => Some(ActivityStatus::Completed),
        "CANCELLED" => Some(ActivityStatus::Cancelled),
        _ => None,
    }
}

impl Activity {
    pub(crate) fn into_timed(self, kind: TimedActivityKind) -> TimedActivity {
        let changed_at = self.row.changed();
        TimedActivity {
            kind,
            id: self.id,
            title: self.title.unwrap_or_default(),
            owner_id: ref_id(&self.owner),
            from: self.scheduled_from.as_deref().and_then(parse_time),
            till: self.scheduled_till.as_deref().and_then(parse_time),
            deadline: self.deadline.as_deref().and_then(parse_time),
            status: status_of(self.status.as_deref()),
            description: self.description,
            place: non_empty(self.meeting_place),
            participants: participants_of(self.participants),
            ext_ids: self.ext_ids.unwrap_or_default(),
            changed_at,
        }
    }

    pub(crate) fn into_activity(self, kind: ActivityKind) -> CrmActivity {
        CrmActivity {
            kind,
            id: self.id,
            title: self.title.unwrap_or_default(),
            owner_id: ref_id(&self.owner),
            from: self.scheduled_from.as_deref().and_then(parse_time),
            till: self.scheduled_till.as_deref().and_then(parse_time),
            description: self.description,
            place: self.meeting_place,
            links: ActivityLinks {
                company_id: ref_id(&self.company),
                person_id: ref_id(&self.person),
                business_case_id: ref_id(&self.business_case),
                project_id: ref_id(&self.project),
            },
            participants: participants_of(self.participants),
            ext_ids: self.ext_ids.unwrap_or_default(),
        }
    }
}

impl UserAccount {
    pub(crate) fn person_name(&self) -> Option<String> {
        self.person.as_ref().and_then(|p| p.full_name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_is_read_from_a_boolean_or_a_string() {
        let a: Envelope<serde_json::Value> = serde_json::from_str(r#"{"success":true}"#).unwrap();
        let b: Envelope<serde_json::Value> = serde_json::from_str(r#"{"success":"true"}"#).unwrap();
        let c: Envelope<serde_json::Value> =
            serde_json::from_str(r#"{"success":"false"}"#).unwrap();
        assert_eq!(
            (a.success, b.success, c.success),
            (Some(true), Some(true), Some(false))
        );
    }

    #[test]
    fn flat_row_info_keys_give_the_change_time_and_validity() {
        let p: Person = serde_json::from_str(
            r#"{"id":3,"firstName":"Jiří","lastName":"Novák","rowInfo.createdAt":"2022-06-18T13:19:00.000+02:00","rowInfo.updatedAt":null,"rowInfo.rowAccess":"INVALID","contactInfo":{"email":"Jiri@Firma.cz","email2":null}}"#,
        )
        .unwrap();
        let r = p.into_record();
        assert_eq!(r.name, "Jiří Novák");
        assert_eq!(r.emails, vec!["jiri@firma.cz"]);
        assert!(!r.open);
        assert_eq!(
            r.updated_at.map(|t| t.to_rfc3339()),
            Some("2022-06-18T11:19:00+00:00".into())
        );
    }

    #[test]
    fn a_won_business_case_is_not_open() {
        let d: Deal = serde_json::from_str(
            r#"{"id":1,"code":"OP-1","name":"x","status":"E_WIN","company":{"id":2,"name":"Firma"}}"#,
        )
        .unwrap();
        let r = d.into_record(RecordKind::BusinessCase);
        assert!(!r.open);
        assert_eq!(r.company_id, Some(2));
    }

    #[test]
    fn times_in_the_default_format_are_read_as_utc() {
        assert_eq!(
            parse_time("2022-06-11 15:00").map(|t| t.to_rfc3339()),
            Some("2022-06-11T15:00:00+00:00".into())
        );
        assert_eq!(parse_time("yesterday"), None);
    }
}
