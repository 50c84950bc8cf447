//! What the page shows for a state, as a list of patches to elements of `taskpane.html` (HTML
//! of a region, visibility, attributes). Pure: every text from the user, the CRM or Office is
//! escaped here, and the runner only applies the patches.

use crate::{
    i18n::Catalog,
    item::{ItemKind, is_automated_sender},
    model::json,
    pane::Pane,
    status::{StatusView, Tone, entry_view},
};

/// One change to the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch {
    /// Sets the inner HTML of the element `id`.
    Html(String, String),
    /// Shows (`true`) or hides the element `id`.
    Show(String, bool),
    /// Sets (`Some`) or removes an attribute of the element `id` (`body`: the page's body).
    Attr(String, &'static str, Option<String>),
    /// Sets the text of the element `id`.
    Text(String, String),
}

/// `text` with the characters that mean something in HTML replaced by entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(id: &str, html: String) -> Patch {
    Patch::Html(id.to_owned(), html)
}

fn show(id: &str, visible: bool) -> Patch {
    Patch::Show(id.to_owned(), visible)
}

fn number(n: usize) -> String {
    json::to_string(&(n as u64))
}

fn status_html(view: &StatusView, t: &Catalog) -> String {
    let mut out = [
        "<p class=\"msg ",
        view.tone.class(),
        "\">",
        &escape(&view.text),
        "</p>",
    ]
    .concat();
    if let Some(link) = &view.link {
        out.push_str(
            &[
                "<a class=\"crm-link\" href=\"",
                &escape(link),
                "\" target=\"_blank\" rel=\"noopener\">",
                &escape(&t.t("open-in-crm")),
                "</a> ",
            ]
            .concat(),
        );
    }
    if view.can_unlink {
        out.push_str(
            &[
                "<button type=\"button\" class=\"link\" data-act=\"unlink\">",
                &escape(&t.t("unlink")),
                "</button>",
            ]
            .concat(),
        );
    }
    out
}

/// The patches that make the page show `pane`.
pub fn render(pane: &Pane) -> Vec<Patch> {
    let t = &pane.t;
    let has_item = pane.item.is_some();
    let mut out = vec![
        show(
            "empty",
            !has_item && !pane.loading && pane.problem.is_none(),
        ),
        show("main", has_item),
        show("loading", pane.loading && !has_item),
    ];

    match &pane.problem {
        Some(problem) => {
            let view = problem.view(t);
            out.push(html(
                "problem",
                [
                    "<p class=\"msg error\">",
                    &escape(&view.text),
                    "</p><button type=\"button\" data-act=\"retry\">",
                    &escape(&t.t("retry")),
                    "</button>",
                ]
                .concat(),
            ));
            out.push(show("problem", true));
            out.push(Patch::Attr(
                "body".into(),
                "data-problem",
                Some(problem.name().into()),
            ));
        }
        None => {
            out.push(show("problem", false));
            out.push(Patch::Attr("body".into(), "data-problem", None));
        }
    }

    let Some(item) = &pane.item else {
        return out;
    };
    let kind = match item.kind {
        ItemKind::Email => t.t("item-email"),
        ItemKind::Meeting => t.t("item-meeting"),
    };
    out.push(html(
        "item",
        [
            "<span class=\"kind\">",
            &escape(&kind),
            "</span> ",
            &escape(&item.subject),
        ]
        .concat(),
    ));

    let mut view = entry_view(pane.entry.as_ref(), t);
    if pane.busy && !view.logged {
        view.text = t.t("saving");
    }
    let mut status = status_html(&view, t);
    if let Some(notice) = &pane.notice {
        status.push_str(
            &[
                "<p class=\"msg ",
                Tone::Success.class(),
                "\">",
                &escape(notice),
                "</p>",
            ]
            .concat(),
        );
    }
    out.push(html("status", status));
    let state = pane.entry.as_ref().map_or("none", |e| e.status.as_str());
    out.push(Patch::Attr(
        "status".into(),
        "data-status",
        Some(state.into()),
    ));

    for picker in &pane.pickers {
        let k = picker.kind.as_str();
        let rm = escape(&t.t("remove"));
        let chips: String = pane
            .selection
            .of_kind(picker.kind)
            .iter()
            .map(|i| {
                let id = json::to_string(&i.id);
                [
                    "<span class=\"chip\" data-id=\"",
                    &id,
                    "\">",
                    &escape(&i.name),
                    "<button type=\"button\" data-act=\"remove\" data-kind=\"",
                    k,
                    "\" data-id=\"",
                    &id,
                    "\" aria-label=\"",
                    &rm,
                    "\">×</button></span>",
                ]
                .concat()
            })
            .collect();
        out.push(Patch::Html(["chosen-", k].concat(), chips));
        let list = if !picker.is_open() {
            String::new()
        } else if picker.results().is_empty() {
            let key = if picker.is_loading() {
                "searching"
            } else {
                "no-results"
            };
            ["<li class=\"none\">", &escape(&t.t(key)), "</li>"].concat()
        } else {
            picker
                .results()
                .iter()
                .enumerate()
                .map(|(n, i)| {
                    [
                        "<li role=\"option\" data-act=\"pick\" data-kind=\"",
                        k,
                        "\" data-index=\"",
                        &number(n),
                        "\" aria-selected=\"",
                        if picker.highlight() == Some(n) {
                            "true"
                        } else {
                            "false"
                        },
                        "\"><span class=\"name\">",
                        &escape(&i.name),
                        "</span><span class=\"sub\">",
                        &escape(&i.subtitle),
                        "</span></li>",
                    ]
                    .concat()
                })
                .collect()
        };
        out.push(Patch::Html(["list-", k].concat(), list));
        out.push(Patch::Show(["list-", k].concat(), picker.is_open()));
    }

    let people: Vec<&String> = pane
        .unmatched
        .iter()
        .filter(|a| !is_automated_sender(a))
        .collect();
    let add = escape(&t.t("add-contact"));
    let unmatched: String = people
        .iter()
        .map(|a| {
            let name = item.name_of(a);
            let label = if name.is_empty() {
                a.to_string()
            } else {
                [&name, " <", a, ">"].concat()
            };
            [
                "<li><span>",
                &escape(&label),
                "</span><button type=\"button\" data-act=\"add-contact\" data-email=\"",
                &escape(a),
                "\">",
                &add,
                "</button></li>",
            ]
            .concat()
        })
        .collect();
    out.push(html("unmatched-list", unmatched));
    out.push(show("unmatched", !people.is_empty()));

    let key = if view.logged {
        "update-links"
    } else if pane.busy {
        "saving"
    } else if item.kind == ItemKind::Meeting {
        "save-meeting"
    } else {
        "save-email"
    };
    out.push(Patch::Text("save".into(), t.t(key)));
    out.push(Patch::Attr(
        "save".into(),
        "disabled",
        pane.busy.then(String::new),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        i18n::Lang,
        item::MailItem,
        model::{Entry, EntryStatus, Item, Kind},
        pane::{Msg, Pane},
        status::Problem,
    };

    fn find<'a>(patches: &'a [Patch], id: &str) -> Vec<&'a Patch> {
        patches
            .iter()
            .filter(|p| match p {
                Patch::Html(i, _)
                | Patch::Show(i, _)
                | Patch::Attr(i, _, _)
                | Patch::Text(i, _) => i == id,
            })
            .collect()
    }

    fn html_of(patches: &[Patch], id: &str) -> String {
        find(patches, id)
            .into_iter()
            .find_map(|p| match p {
                Patch::Html(_, h) => Some(h.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    fn shown(patches: &[Patch], id: &str) -> Option<bool> {
        find(patches, id).into_iter().find_map(|p| match p {
            Patch::Show(_, v) => Some(*v),
            _ => None,
        })
    }

    fn hostile() -> &'static str {
        "<img src=x onerror=\"alert('x')\">&"
    }

    #[test]
    fn escaping_replaces_every_character_that_means_something_in_html() {
        assert_eq!(
            escape(hostile()),
            "&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;"
        );
        assert_eq!(escape("Příliš žluťoučký"), "Příliš žluťoučký");
    }

    #[test]
    fn texts_from_the_item_the_crm_and_the_server_are_escaped_everywhere() {
        let mut pane = Pane::new(Lang::En);
        pane.update(Msg::ItemChanged(Lang::En));
        pane.update(Msg::ItemRead(
            1,
            Ok(Some(Box::new(MailItem {
                subject: hostile().into(),
                ..Default::default()
            }))),
        ));
        let evil = Item {
            kind: Kind::Company,
            id: 1,
            name: hostile().into(),
            subtitle: hostile().into(),
            email: None,
            company_id: None,
            open: true,
            security_level: None,
        };
        pane.selection.choose(evil.clone());
        pane.pickers[0].input("x");
        let round = pane.pickers[0].focus().round;
        pane.pickers[0].answered(round, vec![evil]);
        pane.unmatched = vec![["\"", hostile(), "@x.cz"].concat()];
        pane.entry = Some(Entry {
            status: EntryStatus::Saved,
            crm_link: Some("https://crm/x?a=1&b=\"2\"".into()),
            saved_by: Some(hostile().into()),
            ..Default::default()
        });
        pane.notice = Some(hostile().into());
        let patches = render(&pane);
        for p in &patches {
            if let Patch::Html(id, html) = p {
                assert!(!html.contains("<img"), "{id}: {html}");
                assert!(!html.contains("alert('"), "{id}: {html}");
            }
        }
        assert!(
            html_of(&patches, "status").contains("href=\"https://crm/x?a=1&amp;b=&quot;2&quot;\"")
        );
        assert!(html_of(&patches, "list-company").contains("aria-selected=\"true\""));
    }

    #[test]
    fn loading_empty_and_problem_states_show_the_right_regions() {
        let mut pane = Pane::new(Lang::En);
        pane.update(Msg::ItemChanged(Lang::En));
        let patches = render(&pane);
        assert_eq!(shown(&patches, "loading"), Some(true));
        assert_eq!(shown(&patches, "main"), Some(false));
        pane.update(Msg::ItemRead(1, Ok(None)));
        let patches = render(&pane);
        assert_eq!(
            (shown(&patches, "loading"), shown(&patches, "empty")),
            (Some(false), Some(true))
        );
        pane.problem = Some(Problem::NotRegistered);
        let patches = render(&pane);
        assert_eq!(
            (shown(&patches, "empty"), shown(&patches, "problem")),
            (Some(false), Some(true))
        );
        assert!(patches.contains(&Patch::Attr(
            "body".into(),
            "data-problem",
            Some("NotRegistered".into())
        )));
        assert!(html_of(&patches, "problem").contains("data-act=\"retry\""));
    }

    #[test]
    fn the_status_and_the_save_button_follow_the_entry() {
        let mut pane = Pane::new(Lang::Cs);
        pane.update(Msg::ItemChanged(Lang::Cs));
        pane.update(Msg::ItemRead(1, Ok(Some(Box::default()))));
        let patches = render(&pane);
        assert!(patches.contains(&Patch::Attr(
            "status".into(),
            "data-status",
            Some("none".into())
        )));
        assert!(patches.contains(&Patch::Attr("save".into(), "disabled", None)));
        assert!(html_of(&patches, "status").contains("Zatím není uloženo v CRM."));
        pane.busy = true;
        let patches = render(&pane);
        assert!(patches.contains(&Patch::Attr("save".into(), "disabled", Some(String::new()))));
        pane.busy = false;
        pane.entry = Some(Entry {
            status: EntryStatus::DeletedInCrm,
            ..Default::default()
        });
        let patches = render(&pane);
        assert!(patches.contains(&Patch::Attr(
            "status".into(),
            "data-status",
            Some("deleted_in_crm".into())
        )));
        assert!(!html_of(&patches, "status").contains("data-act=\"unlink\""));
        pane.entry = Some(Entry {
            status: EntryStatus::Saved,
            ..Default::default()
        });
        let patches = render(&pane);
        assert!(html_of(&patches, "status").contains("data-act=\"unlink\""));
        assert!(patches.contains(&Patch::Text("save".into(), pane.t.t("update-links"))));
    }

    #[test]
    fn newsletter_senders_are_not_offered_as_contacts() {
        let mut pane = Pane::new(Lang::En);
        pane.update(Msg::ItemChanged(Lang::En));
        pane.update(Msg::ItemRead(1, Ok(Some(Box::default()))));
        pane.unmatched = vec!["newsletter@shop.cz".into()];
        assert_eq!(shown(&render(&pane), "unmatched"), Some(false));
        pane.unmatched.push("eva@abc.cz".into());
        let patches = render(&pane);
        assert_eq!(shown(&patches, "unmatched"), Some(true));
        assert!(html_of(&patches, "unmatched-list").contains("data-email=\"eva@abc.cz\""));
        assert!(!html_of(&patches, "unmatched-list").contains("newsletter"));
    }
}
