//! Which CRM activity a calendar event stands for: the activity types that can carry a time
//! ([`TimedActivityKind`], named as the CRM names its entities) and the key stamped on every
//! event we write and stored with its link ([`ActivityRef`], `raynet:{entity}:{id}`; the format
//! is stored data and must not change).

/// The prefix of every activity key: the CRM the id belongs to.
const KEY_PREFIX: &str = "raynet";

/// The CRM activity types that can carry a time, as calendar sync knows them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum TimedActivityKind {
    /// `meeting`.
    Meeting,
    /// `event`.
    Event,
    /// `task`.
    Task,
    /// `phoneCall`.
    PhoneCall,
    /// `letter`.
    Letter,
}

impl TimedActivityKind {
    /// Every kind that can carry a time.
    pub const ALL: [Self; 5] = [
        Self::Meeting,
        Self::Event,
        Self::Task,
        Self::PhoneCall,
        Self::Letter,
    ];

    /// The entity name in the CRM's API paths (`/meeting/`, `/phoneCall/`, …).
    pub fn entity(self) -> &'static str {
        match self {
            Self::Meeting => "meeting",
            Self::Event => "event",
            Self::Task => "task",
            Self::PhoneCall => "phoneCall",
            Self::Letter => "letter",
        }
    }

    /// The kind for a CRM entity name (`Meeting`, `meeting`, `PhoneCall`, …).
    pub fn from_entity(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.entity().eq_ignore_ascii_case(name))
    }
}

/// One CRM activity, by type and CRM id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActivityRef {
    /// Type.
    pub kind: TimedActivityKind,
    /// The CRM's id.
    pub id: i64,
}

impl ActivityRef {
    /// The activity `kind`/`id`.
    pub fn new(kind: TimedActivityKind, id: i64) -> Self {
        Self { kind, id }
    }

    /// The key stamped on events and stored with links: `raynet:{entity}:{id}`.
    pub fn to_key(self) -> String {
        format!("{KEY_PREFIX}:{}:{}", self.kind.entity(), self.id)
    }

    /// The activity a key names; `None` for anything [`Self::to_key`] does not produce.
    pub fn parse_key(key: &str) -> Option<Self> {
        let mut parts = key.splitn(3, ':');
        let (Some(KEY_PREFIX), Some(entity), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(Self {
            kind: TimedActivityKind::from_entity(entity)?,
            id: id.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_keeps_the_stored_format_and_parses_back() {
        let r = ActivityRef::new(TimedActivityKind::PhoneCall, 81);
        assert_eq!(r.to_key(), "raynet:phoneCall:81");
        assert_eq!(ActivityRef::parse_key("raynet:phoneCall:81"), Some(r));
        for kind in TimedActivityKind::ALL {
            let r = ActivityRef::new(kind, 5);
            assert_eq!(ActivityRef::parse_key(&r.to_key()), Some(r));
        }
    }

    #[test]
    fn keys_of_other_shapes_are_not_parsed() {
        for key in [
            "",
            "raynet:meeting",
            "raynet:meeting:x",
            "raynet:email:5",
            "other:meeting:5",
        ] {
            assert_eq!(ActivityRef::parse_key(key), None, "{key}");
        }
    }

    #[test]
    fn entity_names_are_matched_without_regard_to_case() {
        assert_eq!(
            TimedActivityKind::from_entity("PhoneCall"),
            Some(TimedActivityKind::PhoneCall)
        );
        assert_eq!(TimedActivityKind::from_entity("email"), None);
    }
}
