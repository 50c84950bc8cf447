//! The wire types in the small JSON codec of `json` (what the pane uses), written field by field
//! in the same order and with the same names as the server's serde derives; the tests below
//! check the two against each other.

use crate::{
    api::*,
    json::{Error, FromJson, Object, ToJson, Value},
};

/// Implements [`ToJson`] and [`FromJson`] for a struct whose fields all map one to one; like
/// any other field, an absent or `null` one reads as the default.
macro_rules! json_struct {
    ($name:ident { $($field:ident),+ $(,)? }) => {
        impl ToJson for $name {
            fn write_json(&self, out: &mut String) {
                Object::new(out)
                    $(.field(stringify!($field), &self.$field))+
                    .end();
            }
        }

        impl FromJson for $name {
            fn from_json(value: &Value) -> Result<Self, Error> {
                if *value == Value::Null {
                    return Ok(Self::default());
                }
                let value = value.expect_object()?;
                Ok(Self { $($field: value.field(stringify!($field))?),+ })
            }
        }
    };
}

json_struct!(LookupAnswer { items });
json_struct!(SuggestRequest { addresses });
json_struct!(Suggestions {
    persons,
    companies,
    projects,
    business_cases,
    unmatched
});
json_struct!(Links {
    company_id,
    person_ids,
    project_id,
    business_case_id
});
json_struct!(Mailbox { name, email });
json_struct!(Attachment { name, size });
json_struct!(EmailInput {
    internet_message_id,
    item_id,
    subject,
    from,
    to,
    cc,
    sent_at,
    body_text,
    attachments,
    links
});
json_struct!(MeetingInput {
    ical_uid,
    item_id,
    subject,
    start,
    end,
    time_zone,
    location,
    organizer,
    required,
    optional,
    body_text,
    links
});
json_struct!(Relink { links });
json_struct!(PersonInput {
    first_name,
    last_name,
    email,
    company_id
});

impl ToJson for Pick {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("kind", &self.kind)
            .field("id", &self.id)
            .end();
    }
}

impl ToJson for ItemView {
    fn write_json(&self, out: &mut String) {
        // `security_level` stays on the server.
        Object::new(out)
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("name", &self.name)
            .field("subtitle", &self.subtitle)
            .field("email", &self.email)
            .field("company_id", &self.company_id)
            .field("open", &self.open)
            .end();
    }
}

impl FromJson for ItemView {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let v = value.expect_object()?;
        Ok(Self {
            kind: v.field("kind")?,
            id: v.field("id")?,
            name: v.field("name")?,
            subtitle: v.field("subtitle")?,
            email: v.field("email")?,
            company_id: v.field("company_id")?,
            open: v.field("open")?,
            security_level: None,
        })
    }
}

impl ToJson for Entry {
    fn write_json(&self, out: &mut String) {
        Object::new(out)
            .field("id", &self.id)
            .field("kind", self.kind.map_or("", |k| k.as_str()))
            .field("status", &self.status)
            .field("crm_activity_id", &self.crm_activity_id)
            .field("crm_link", &self.crm_link)
            .field("error", &self.error)
            .field("links", &self.links)
            .field("unmatched", &self.unmatched)
            .field("updated_at", &self.updated_at)
            .field("saved_by", &self.saved_by)
            .field("crm_links", &self.crm_links)
            .end();
    }
}

impl FromJson for Entry {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let v = value.expect_object()?;
        let kind = match v.get("kind") {
            Value::String(s) if s.is_empty() => None,
            other => FromJson::from_json(other)?,
        };
        Ok(Self {
            id: v.field("id")?,
            kind,
            status: v.field("status")?,
            crm_activity_id: v.field("crm_activity_id")?,
            crm_link: v.field("crm_link")?,
            error: v.field("error")?,
            links: v.field("links")?,
            unmatched: v.field("unmatched")?,
            updated_at: v.field("updated_at")?,
            saved_by: v.field("saved_by")?,
            crm_links: v.field("crm_links")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        json,
        kinds::{ActivityKind, EntryStatus, ItemKind},
    };

    fn links() -> Links {
        Links {
            company_id: Some(3),
            person_ids: vec![4, 5],
            project_id: None,
            business_case_id: Some(9_007_199_254_740_993),
        }
    }

    fn view(kind: ItemKind, id: i64) -> ItemView {
        ItemView {
            kind,
            id,
            name: "Vítkovice \"a.s.\" <b>".into(),
            subtitle: "IČO 123\n".into(),
            email: (kind == ItemKind::Person).then(|| "jan@vitkovice.cz".into()),
            company_id: Some(1).filter(|_| kind != ItemKind::Company),
            open: id % 2 == 0,
            security_level: None,
        }
    }

    fn entry() -> Entry {
        Entry {
            id: "0190a-b".into(),
            kind: Some(ActivityKind::Meeting),
            status: EntryStatus::DeletedInCrm,
            crm_activity_id: Some(77),
            crm_link: Some("https://crm.example/x?a=1&b=2".into()),
            error: None,
            links: links(),
            unmatched: vec!["eva@abc.cz".into()],
            updated_at: "2026-12-03T12:00:00.000Z".into(),
            saved_by: Some("Jana Nováková".into()),
            crm_links: Some(Links::default()),
        }
    }

    #[test]
    fn the_item_kind_of_the_pane_is_the_servers_with_its_wire_names() {
        assert_eq!(
            json::to_string(&ItemKind::BusinessCase),
            "\"business_case\""
        );
        assert!(json::from_str::<ItemKind>("\"Company\"").is_err());
    }

    #[test]
    fn what_the_codec_writes_it_reads_back_unchanged() {
        let e = entry();
        assert_eq!(json::from_str::<Entry>(&json::to_string(&e)), Ok(e));
        let v = view(ItemKind::Person, 2);
        assert_eq!(json::from_str::<ItemView>(&json::to_string(&v)), Ok(v));
        assert_eq!(
            json::from_str::<Links>(&json::to_string(&links())),
            Ok(links())
        );
    }

    #[test]
    fn a_stored_entry_with_no_kind_reads_back_with_no_kind() {
        let text = json::to_string(&Entry::not_logged());
        assert!(
            text.contains(r#""kind":"","status":"not_logged""#),
            "{text}"
        );
        assert_eq!(json::from_str::<Entry>(&text), Ok(Entry::not_logged()));
    }

    #[test]
    fn answers_missing_optional_fields_read_with_defaults() {
        let e: Entry = json::from_str(r#"{"id":"a","status":"queued"}"#).unwrap();
        assert_eq!(
            (e.status, e.links, e.kind),
            (EntryStatus::Queued, Links::default(), None)
        );
        let i: ItemView =
            json::from_str(r#"{"kind":"person","id":1,"name":"X","subtitle":null}"#).unwrap();
        assert_eq!(i.subtitle, "");
        assert!(json::from_str::<ItemView>(r#"{"id":1}"#).is_err());
        assert!(json::from_str::<Entry>(r#"{"status":"lost"}"#).is_err());
        assert!(json::from_str::<Entry>("[]").is_err());
    }

    /// The server writes with serde, the pane reads with `json`, and the other way round: both
    /// must agree on every field, byte for byte where the server writes.
    #[cfg(feature = "serde")]
    mod against_serde {
        use super::*;

        fn server_writes_pane_reads<T>(value: &T)
        where
            T: serde::Serialize + FromJson + ToJson + PartialEq + core::fmt::Debug,
        {
            let serde_text = serde_json::to_string(value).unwrap();
            assert_eq!(json::to_string(value), serde_text, "same bytes");
            assert_eq!(&json::from_str::<T>(&serde_text).unwrap(), value);
        }

        fn pane_writes_server_reads<T>(value: &T)
        where
            T: serde::de::DeserializeOwned + ToJson + PartialEq + core::fmt::Debug,
        {
            let text = json::to_string(value);
            assert_eq!(&serde_json::from_str::<T>(&text).unwrap(), value, "{text}");
        }

        #[test]
        fn answers_written_by_the_server_read_identically_in_the_pane() {
            for entry in [entry(), Entry::not_logged()] {
                server_writes_pane_reads(&entry);
            }
            let all = |kind| vec![view(kind, 1), view(kind, 2)];
            server_writes_pane_reads(&Suggestions {
                persons: all(ItemKind::Person),
                companies: all(ItemKind::Company),
                projects: all(ItemKind::Project),
                business_cases: vec![],
                unmatched: vec!["x@y.cz".into()],
            });
            server_writes_pane_reads(&LookupAnswer {
                items: all(ItemKind::BusinessCase),
            });
            server_writes_pane_reads(&view(ItemKind::Person, 5));
        }

        #[test]
        fn the_security_level_never_goes_on_the_wire() {
            let secret = ItemView {
                security_level: Some(4),
                ..view(ItemKind::Company, 1)
            };
            let text = serde_json::to_string(&secret).unwrap();
            assert!(!text.contains("security"), "{text}");
            assert_eq!(json::to_string(&secret), text);
        }

        #[test]
        fn requests_written_by_the_pane_read_identically_on_the_server() {
            let mailbox = |n: &str| Mailbox {
                name: n.into(),
                email: format!("{n}@x.cz"),
            };
            pane_writes_server_reads(&EmailInput {
                internet_message_id: "<a+b@x>".into(),
                item_id: Some("AAM=".into()),
                subject: "Nabídka \"2026\"\t".into(),
                from: mailbox("jan"),
                to: vec![mailbox("eva"), Mailbox::default()],
                cc: vec![],
                sent_at: "2026-12-03T10:00:00Z".into(),
                body_text: "Dobrý den,\r\n\u{1}".into(),
                attachments: vec![Attachment {
                    name: "a.pdf".into(),
                    size: u64::from(u32::MAX) + 1,
                }],
                links: links(),
            });
            pane_writes_server_reads(&MeetingInput {
                ical_uid: None,
                item_id: Some("AAA".into()),
                subject: "Porada".into(),
                start: "2026-12-03T10:00:00".into(),
                end: "2026-12-03T11:00:00".into(),
                time_zone: Some("Europe/Prague".into()),
                location: Some("Ostrava".into()),
                organizer: mailbox("jan"),
                required: vec![mailbox("eva")],
                optional: vec![],
                body_text: String::new(),
                links: Links::default(),
            });
            pane_writes_server_reads(&Relink { links: links() });
            pane_writes_server_reads(&PersonInput {
                first_name: "Jana".into(),
                last_name: "Nováková".into(),
                email: "jana@x.cz".into(),
                company_id: None,
            });
            pane_writes_server_reads(&SuggestRequest {
                addresses: vec!["a@b.cz".into()],
            });
            pane_writes_server_reads(&Pick {
                kind: ItemKind::Project,
                id: 12,
            });
        }
    }
}
