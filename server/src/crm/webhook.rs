//! The CRM's webhooks: the route the CRM posts to, how a delivery proves it is the CRM's (the
//! shared token header, compared in constant time), and the payload `{eventId, createdAt, type,
//! author, source, data{entityName, entityId, extIds}}`, parsed into our terms.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{ActivityKind, RecordKind};

/// The route the CRM posts its webhooks to; the last segment is our webhook id.
pub const ROUTE: &str = "/api/raynet-event/{webhook_id}";

/// The header that carries the shared token the CRM sends with every delivery.
pub const TOKEN_HEADER: &str = "x-raynetcrm-token";

/// What a delivery without the right token is told.
pub const WRONG_TOKEN: &str = "missing or wrong X-RAYNETCRM-Token";

/// The address the CRM posts to for our webhook `webhook_id` on a server reachable at `base`.
pub fn url(base: &str, webhook_id: &str) -> String {
    format!(
        "{}{}",
        base.trim_end_matches('/'),
        ROUTE.replace("{webhook_id}", webhook_id)
    )
}

/// Whether `headers` carry the shared token `expected` (compared in constant time); never true
/// without a token.
pub fn authenticate(headers: &HeaderMap, expected: Option<&SecretString>) -> bool {
    let sent = headers
        .get(TOKEN_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    expected.is_some_and(|t| bool::from(t.expose_secret().as_bytes().ct_eq(sent)))
}

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventAction {
    /// Created (`record.created`, or `record.inserted` as the setup manual calls it).
    Created,
    /// Changed.
    Updated,
    /// Deleted.
    Deleted,
}

impl EventAction {
    /// Stable name for storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
        }
    }
}

/// One change notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmEvent {
    /// The CRM's unique id of the event (deduplication key).
    pub event_id: String,
    /// What happened.
    pub action: EventAction,
    /// The CRM's entity name as sent (`Company`, `Email`, …).
    pub entity_name: String,
    /// The record kind, when it is one the item cache keeps.
    pub kind: Option<RecordKind>,
    /// The activity kind, when it is one we write (e-mails and meetings the ledger follows).
    pub activity: Option<ActivityKind>,
    /// The record's id.
    pub entity_id: i64,
    /// When the CRM made the event.
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    event_id: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    data: WireData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireData {
    entity_name: String,
    entity_id: serde_json::Value,
}

/// Parses a webhook body; the error says what is wrong, for a 400 answer.
pub fn parse_event(body: &[u8]) -> Result<CrmEvent, String> {
    let wire: Wire = serde_json::from_slice(body).map_err(|e| format!("not a CRM event: {e}"))?;
    let event_id = wire.event_id.trim().to_owned();
    if event_id.is_empty() || event_id.len() > 200 {
        return Err("eventId must have 1 to 200 characters".into());
    }
    let action = match wire.kind.as_str() {
        "record.created" | "record.inserted" => EventAction::Created,
        "record.updated" => EventAction::Updated,
        "record.deleted" => EventAction::Deleted,
        other => return Err(format!("unknown event type `{other}`")),
    };
    let entity_id = match &wire.data.entity_id {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|id| *id > 0)
    .ok_or("data.entityId must be a positive integer")?;
    let kind = match wire.data.entity_name.to_ascii_lowercase().as_str() {
        "company" => Some(RecordKind::Company),
        "person" => Some(RecordKind::Person),
        "businesscase" => Some(RecordKind::BusinessCase),
        "project" => Some(RecordKind::Project),
        _ => None,
    };
    let activity = match wire.data.entity_name.to_ascii_lowercase().as_str() {
        "email" => Some(ActivityKind::Email),
        "meeting" => Some(ActivityKind::Meeting),
        _ => None,
    };
    let created_at = wire
        .created_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    Ok(CrmEvent {
        event_id,
        action,
        entity_name: wire.data.entity_name.chars().take(100).collect(),
        kind,
        activity,
        entity_id,
        created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(kind: &str, entity: &str, id: &str) -> Vec<u8> {
        format!(
            r#"{{"eventId":"e1","createdAt":"2026-11-21T10:00:00.000+01:00","type":"{kind}",
            "author":"a@b.cz","source":{{"name":"user"}},
            "data":{{"entityName":"{entity}","entityId":{id},"extIds":null}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn both_names_of_the_create_event_are_accepted() {
        for kind in ["record.created", "record.inserted"] {
            let event = parse_event(&body(kind, "Company", "5")).unwrap();
            assert_eq!(event.action, EventAction::Created);
            assert_eq!(event.kind, Some(RecordKind::Company));
            assert_eq!(event.entity_id, 5);
        }
    }

    #[test]
    fn entities_we_do_not_cache_parse_without_a_kind() {
        let event = parse_event(&body("record.updated", "Email", "\"7\"")).unwrap();
        assert_eq!(event.kind, None);
        assert_eq!(event.entity_id, 7);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(parse_event(b"{").is_err());
        assert!(parse_event(&body("record.exploded", "Company", "1")).is_err());
        assert!(parse_event(&body("record.updated", "Company", "-1")).is_err());
        assert!(parse_event(&body("record.updated", "Company", "\"x\"")).is_err());
    }
}
