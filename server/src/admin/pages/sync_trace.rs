//! The calendar-sync trace page (`/admin/sync/trace`): every sync decision, newest first, a page
//! at a time, for everybody or one employee and/or one activity: what was done or skipped and
//! why, in which mailbox, Graph's request id and the error.

use axum::{
    extract::{Query, State},
    response::Response,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{AdminPage, Ctx};
use crate::{calendar::service, i18n::Tr, state::AppState, store::TraceEntry};

const HERE: &str = "/admin/sync";
const TITLE: &str = tkey!("sync-trace-title");
/// Entries per page.
const PER_PAGE: u64 = 50;

/// The filter and the page.
#[derive(Debug, Default, Deserialize)]
pub struct TraceQuery {
    /// Only this employee's decisions (employee id).
    #[serde(default)]
    employee: Option<String>,
    /// Only this activity's (`raynet:meeting:81`).
    #[serde(default)]
    activity: Option<String>,
    /// How many of the newest entries to skip (the page's start).
    #[serde(default)]
    offset: Option<u64>,
}

impl TraceQuery {
    fn employee(&self) -> Option<&str> {
        self.employee
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn activity(&self) -> Option<&str> {
        self.activity
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// This filter's URL from `offset` on.
    fn url(&self, offset: u64) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(e) = self.employee() {
            q.append_pair("employee", e);
        }
        if let Some(a) = self.activity() {
            q.append_pair("activity", a);
        }
        if offset > 0 {
            q.append_pair("offset", &offset.to_string());
        }
        format!("/admin/sync/trace?{}", q.finish())
    }
}

/// The action in words (the trace's and the preview's).
pub(super) fn action_text(tr: &Tr, action: &str) -> String {
    let key = match action {
        "create" => tkey!("trace-action-create"),
        "update" => tkey!("trace-action-update"),
        "delete" => tkey!("trace-action-delete"),
        "cancel" => tkey!("trace-action-cancel"),
        "unlink" => tkey!("trace-action-unlink"),
        "skip" => tkey!("trace-action-skip"),
        "adopt" => tkey!("trace-action-adopt"),
        "failed" => tkey!("trace-action-failed"),
        other => return other.to_owned(),
    };
    tr.t(key)
}

/// Why, in words; a code the catalogs do not know yet is shown as it is.
fn reason_text(tr: &Tr, reason: &str) -> String {
    let key = match reason {
        "" => return String::new(),
        "unchanged" => tkey!("trace-reason-unchanged"),
        "sync_disabled" => tkey!("trace-reason-sync-disabled"),
        "deleted_in_crm" => tkey!("trace-reason-deleted-in-crm"),
        "saved_from_outlook" => tkey!("trace-reason-saved-from-outlook"),
        "type_not_synced" => tkey!("trace-reason-type-not-synced"),
        "type_not_read" => tkey!("trace-reason-type-not-read"),
        "no_time" => tkey!("trace-reason-no-time"),
        "before_start_date" => tkey!("trace-reason-before-start-date"),
        "joined_concurrent_create" => tkey!("trace-reason-joined-concurrent-create"),
        "interrupted_create" => tkey!("trace-reason-interrupted-create"),
        other => return other.to_owned(),
    };
    tr.t(key)
}

fn filter_form(tr: &Tr, q: &TraceQuery, employees: &[(String, String)]) -> Markup {
    html! {
        form.search.card method="get" action="/admin/sync/trace" {
            div.field {
                label for="f-employee" { (tr.t("sync-col-employee")) }
                select id="f-employee" name="employee" {
                    option value="" { (tr.t("trace-everybody")) }
                    @for (id, name) in employees {
                        option value=(id) selected[q.employee() == Some(id.as_str())] { (name) }
                    }
                }
            }
            div.field {
                label for="f-activity" { (tr.t("trace-col-activity")) }
                input id="f-activity" name="activity" type="text" value=(q.activity().unwrap_or(""))
                    placeholder="raynet:meeting:81" aria-describedby="f-activity-hint";
                p.hint id="f-activity-hint" { (tr.t("trace-activity-hint")) }
            }
            button type="submit" { (tr.t("trace-filter")) }
        }
    }
}

fn entry_row(tr: &Tr, e: &TraceEntry, name: &str) -> Markup {
    let by_activity = TraceQuery {
        activity: Some(e.activity_key.clone()),
        ..TraceQuery::default()
    };
    html! {
        tr.failed[e.action == "failed"] {
            td { (tr.datetime_ms(e.at)) }
            td { a href=(by_activity.url(0)) { code { (e.activity_key) } } }
            td.address { (name) @if !e.mailbox.is_empty() { br; small { (e.mailbox) } } }
            td { (action_text(tr, &e.action)) }
            td { (reason_text(tr, &e.reason)) }
            td { @if let Some(id) = &e.request_id { code { (id) } } }
            td { @if let Some(err) = &e.error { span.failure { (err) } } }
        }
    }
}

fn trace_table(tr: &Tr, entries: &[TraceEntry], employees: &[(String, String)]) -> Markup {
    let name = |id: &str| {
        employees
            .iter()
            .find(|(e, _)| e == id)
            .map_or_else(|| id.to_owned(), |(_, n)| n.clone())
    };
    html! {
        @if entries.is_empty() {
            p #trace-empty { (tr.t("trace-empty")) }
        } @else {
            div.table-wrap { table #trace {
                thead { tr {
                    th scope="col" { (tr.t("audit-at")) }
                    th scope="col" { (tr.t("trace-col-activity")) }
                    th scope="col" { (tr.t("sync-col-employee")) }
                    th scope="col" { (tr.t("trace-col-action")) }
                    th scope="col" { (tr.t("trace-col-reason")) }
                    th scope="col" { (tr.t("trace-col-request-id")) }
                    th scope="col" { (tr.t("trace-col-error")) }
                } }
                tbody { @for e in entries { (entry_row(tr, e, &name(&e.employee_id))) } }
            } }
        }
    }
}

fn pager(tr: &Tr, q: &TraceQuery, offset: u64, shown: usize, more: bool) -> Markup {
    let first = i64::try_from(offset.saturating_add(1)).unwrap_or(i64::MAX);
    let last = i64::try_from(offset.saturating_add(shown as u64)).unwrap_or(i64::MAX);
    html! {
        nav.pager aria-label=(tr.t("trace-pages")) {
            @if offset > 0 {
                a rel="prev" href=(q.url(offset.saturating_sub(PER_PAGE))) { (tr.t("trace-newer")) }
            }
            @if shown > 0 {
                span { (tr.ta("trace-range", &[("first", first.into()), ("last", last.into())])) }
            }
            @if more { a rel="next" href=(q.url(offset.saturating_add(PER_PAGE))) { (tr.t("trace-older")) } }
        }
    }
}

/// `GET /admin/sync/trace?employee=&activity=&offset=`.
pub async fn trace_page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    Query(q): Query<TraceQuery>,
) -> Response {
    let offset = q.offset.unwrap_or(0);
    let cal = state.calendar_ctx();
    let found = service::trace_page(&cal, q.employee(), q.activity(), offset, PER_PAGE).await;
    let employees = state.store.list_employees().await;
    let ((entries, more), employees) = match (found, employees) {
        (Ok(f), Ok(e)) => (f, e),
        (Err(e), _) | (_, Err(e)) => return failed(&ctx, e),
    };
    let employees: Vec<(String, String)> = employees
        .into_iter()
        .map(|e| (e.id, e.identifier))
        .collect();
    let tr = &ctx.tr;
    let body = html! {
        p { a href=(HERE) { (tr.t("trace-back")) } }
        (filter_form(tr, &q, &employees))
        (trace_table(tr, &entries, &employees))
        (pager(tr, &q, offset, entries.len(), more))
    };
    ctx.ok(TITLE, HERE, body)
}

fn failed(ctx: &Ctx, err: impl Into<crate::error::AppError>) -> Response {
    let err = err.into();
    ctx.page(err.status(), TITLE, HERE, ctx.error_notice(&err))
}
