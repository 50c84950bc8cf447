//! What the status area says: the ledger state of the open item, the outcome of a save, and
//! the problems (offline, not an employee yet, other errors), as text from the catalog.

use crate::{
    i18n::Catalog,
    model::{Entry, EntryStatus, json},
};

/// How a message looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Neutral.
    Info,
    /// Done.
    Success,
    /// Pending.
    Warning,
    /// Failed.
    Error,
}

impl Tone {
    /// Its CSS class.
    pub fn class(self) -> &'static str {
        match self {
            Tone::Info => "info",
            Tone::Success => "success",
            Tone::Warning => "warning",
            Tone::Error => "error",
        }
    }
}

/// The status area's content.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    /// Look.
    pub tone: Tone,
    /// Text.
    pub text: String,
    /// Link to the activity in the CRM.
    pub link: Option<String>,
    /// Whether "Unlink" is offered.
    pub can_unlink: bool,
    /// Whether the item is in the ledger (save becomes "update links").
    pub logged: bool,
}

/// A failed call, as the pane explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No answer from the server.
    Offline,
    /// A valid token, but no employee for it.
    NotRegistered,
    /// No token could be obtained (the reason, for the console only: it is not translated).
    SignIn(String),
    /// Any other error answer: its stable code (`unauthorized`, `not_found`, …), which the pane
    /// translates; the server's English message is never shown.
    Server(String),
}

impl Problem {
    /// The problem for an HTTP error answer (`{"error":{"code","message"}}`).
    pub fn from_response(status: u16, body: &str) -> Self {
        let parsed = json::parse(body).unwrap_or_default();
        let code = parsed.get("error").get("code").as_str();
        if code == Some("not_registered") {
            return Problem::NotRegistered;
        }
        if matches!(status, 502..=504) && code.is_none() {
            return Problem::Offline;
        }
        Problem::Server(code.map_or_else(
            || ["http_", &json::to_string(&u64::from(status))].concat(),
            str::to_owned,
        ))
    }

    /// A stable name for it (the page's `data-problem`, which tests and styles may match).
    pub fn name(&self) -> &'static str {
        match self {
            Problem::Offline => "Offline",
            Problem::NotRegistered => "NotRegistered",
            Problem::SignIn(_) => "SignIn",
            Problem::Server(_) => "Server",
        }
    }

    /// How the pane shows it.
    pub fn view(&self, t: &Catalog) -> StatusView {
        let text = match self {
            Problem::Offline => t.t("offline"),
            Problem::NotRegistered => t.t("not-registered"),
            Problem::SignIn(_) => t.t("signin-failed"),
            Problem::Server(code) => t.t(match code.as_str() {
                "unauthorized" => "error-unauthorized",
                "forbidden" => "error-forbidden",
                "not_found" => "error-not-found",
                "invalid" | "bad_request" | "payload_too_large" => "error-invalid",
                "too_many_requests" => "error-busy",
                "upstream_error" | "upstream_timeout" | "unavailable" | "timeout" => "error-crm",
                _ => "server-error",
            }),
        };
        StatusView {
            tone: Tone::Error,
            text,
            link: None,
            can_unlink: false,
            logged: false,
        }
    }
}

/// The status for the open item's ledger entry (`None`: not saved yet).
pub fn entry_view(entry: Option<&Entry>, t: &Catalog) -> StatusView {
    let Some(e) = entry else {
        return StatusView {
            tone: Tone::Info,
            text: t.t("status-not-logged"),
            link: None,
            can_unlink: false,
            logged: false,
        };
    };
    let (tone, mut text) = match e.status {
        EntryStatus::Saved => match &e.saved_by {
            Some(colleague) => (
                Tone::Success,
                t.t_with("status-saved-by", &[("colleague", colleague)]),
            ),
            None => (Tone::Success, t.t("status-saved")),
        },
        // Every save is queued first and usually done a moment later: only a failed attempt
        // (an error recorded) means the CRM could not be reached.
        EntryStatus::Queued if e.error.is_none() => (Tone::Info, t.t("saving")),
        EntryStatus::Queued => (Tone::Warning, t.t("status-queued")),
        EntryStatus::Unlinked => (Tone::Info, t.t("status-unlinked")),
        EntryStatus::DeletedInCrm => (Tone::Warning, t.t("status-deleted-in-crm")),
        // The recorded reason is the CRM's or the server's English text: the admin sees it on
        // the Health page; the pane says what to do in the user's language.
        _ => (Tone::Error, t.t("status-failed")),
    };
    if e.crm_links.is_some() && e.status == EntryStatus::Saved {
        text.push(' ');
        text.push_str(&t.t("status-links-changed"));
    }
    // Deleted in the CRM: like an unsaved item, Save makes a new activity.
    let live = e.status.is_live();
    StatusView {
        tone,
        text,
        link: e.crm_link.clone().filter(|_| live),
        can_unlink: live,
        logged: live,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn a_saved_entry_shows_its_link_and_offers_unlink() {
        let t = Catalog::new(Lang::En);
        let e = Entry {
            status: EntryStatus::Saved,
            crm_link: Some("https://app.raynet.cz/x/?view=DetailView&en=Email&ei=4".into()),
            ..Default::default()
        };
        let v = entry_view(Some(&e), &t);
        assert_eq!(v.tone, Tone::Success);
        assert!(v.link.is_some() && v.can_unlink && v.logged);
        assert_eq!(v.text, "Saved to the CRM.");
    }

    #[test]
    fn queued_failed_unlinked_and_absent_entries_read_differently() {
        let t = Catalog::new(Lang::En);
        let mk = |s| Entry {
            status: s,
            error: Some("bad key".into()),
            ..Default::default()
        };
        assert_eq!(
            entry_view(Some(&mk(EntryStatus::Queued)), &t).tone,
            Tone::Warning
        );
        let failed = entry_view(Some(&mk(EntryStatus::Failed)), &t);
        assert!(
            failed.text.starts_with("Saving to the CRM failed."),
            "{}",
            failed.text
        );
        assert!(!failed.text.contains("bad key"));
        let unlinked = entry_view(Some(&mk(EntryStatus::Unlinked)), &t);
        assert!(!unlinked.can_unlink && !unlinked.logged);
        assert!(!entry_view(None, &t).logged);
    }

    #[test]
    fn a_colleagues_activity_names_them_and_a_deleted_one_offers_saving_again() {
        let t = Catalog::new(Lang::En);
        let shared = Entry {
            status: EntryStatus::Saved,
            saved_by: Some("Jana Nováková".into()),
            crm_link: Some("https://app.raynet.cz/x/?view=DetailView&en=Meeting&ei=4".into()),
            ..Default::default()
        };
        let v = entry_view(Some(&shared), &t);
        assert_eq!(v.text, "Already saved to the CRM by Jana Nováková.");
        assert!(v.link.is_some());
        let deleted = entry_view(
            Some(&Entry {
                status: EntryStatus::DeletedInCrm,
                ..Default::default()
            }),
            &t,
        );
        assert_eq!(deleted.tone, Tone::Warning);
        assert!(
            deleted.text.contains("deleted in Raynet"),
            "{}",
            deleted.text
        );
        assert!(!deleted.logged && deleted.link.is_none());
        let moved = entry_view(
            Some(&Entry {
                status: EntryStatus::Saved,
                crm_links: Some(crate::model::Links::default()),
                ..Default::default()
            }),
            &t,
        );
        assert!(moved.text.contains("changed in Raynet"), "{}", moved.text);
    }

    #[test]
    fn error_answers_become_problems_the_user_understands() {
        let body = r#"{"error":{"code":"not_registered","message":"…"}}"#;
        assert_eq!(Problem::from_response(403, body), Problem::NotRegistered);
        assert_eq!(Problem::from_response(502, ""), Problem::Offline);
        let other = r#"{"error":{"code":"bad_request","message":"q is too long"}}"#;
        assert_eq!(
            Problem::from_response(400, other),
            Problem::Server("bad_request".into())
        );
        let t = Catalog::new(Lang::Cs);
        assert!(Problem::NotRegistered.view(&t).text.contains("správce"));
    }

    #[test]
    fn server_messages_are_never_shown_only_translated_texts_for_their_codes() {
        let body = r#"{"error":{"code":"unauthorized","message":"the access token is malformed"}}"#;
        let problem = Problem::from_response(401, body);
        for lang in [Lang::En, Lang::Cs] {
            let text = problem.view(&Catalog::new(lang)).text;
            assert!(!text.contains("malformed"), "{text}");
        }
        let cs = problem.view(&Catalog::new(Lang::Cs)).text;
        assert!(cs.contains("Přihl"), "{cs}");
        let unknown = Problem::from_response(418, r#"{"error":{"code":"teapot","message":"x"}}"#);
        assert_eq!(
            unknown.view(&Catalog::new(Lang::En)).text,
            Catalog::new(Lang::En).t("server-error")
        );
        let signin = Problem::SignIn("AADSTS50011: redirect URI mismatch".into());
        assert!(!signin.view(&Catalog::new(Lang::Cs)).text.contains("AADSTS"));
    }

    #[test]
    fn a_queued_save_reads_saving_until_the_crm_really_fails() {
        let t = Catalog::new(Lang::En);
        let fresh = Entry {
            status: EntryStatus::Queued,
            ..Default::default()
        };
        let view = entry_view(Some(&fresh), &t);
        assert_eq!((view.tone, view.text.as_str()), (Tone::Info, "Saving…"));
        let failing = Entry {
            error: Some("CRM unavailable".into()),
            ..fresh
        };
        assert_eq!(entry_view(Some(&failing), &t).tone, Tone::Warning);
    }
}
