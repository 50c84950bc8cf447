//! The dry-run page (`/admin/sync/preview`): what the next sync would do for everyone or one
//! employee under the current settings and rules, each planned action with the rule that
//! decided it; nothing is written. The Synchronisation page links here with its "Preview"
//! button (before sync is enabled, or after a rule changed).

use axum::{
    extract::{Query, State},
    response::Response,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{AdminPage, Ctx, sync_trace::action_text};
use crate::{
    calendar::preview::{Preview, PreviewError, preview},
    error::AppError,
    i18n::Tr,
    state::AppState,
};

const HERE: &str = "/admin/sync";
const TITLE: &str = tkey!("sync-preview-title");

/// Whose sync to preview.
#[derive(Debug, Default, Deserialize)]
pub struct PreviewQuery {
    /// Employee id; everyone opted in when empty.
    #[serde(default)]
    employee: Option<String>,
}

/// The "Preview" launcher on the Synchronisation page: everyone or one employee.
pub fn launcher(tr: &Tr, employees: &[(String, String)]) -> Markup {
    html! {
        form.card #sync-preview method="get" action="/admin/sync/preview" {
            h2 { (tr.t("sync-preview-heading")) }
            p.hint { (tr.t("sync-preview-intro")) }
            div.field {
                label for="f-preview-employee" { (tr.t("sync-col-employee")) }
                select id="f-preview-employee" name="employee" {
                    option value="" { (tr.t("sync-preview-everyone")) }
                    @for (id, name) in employees { option value=(id) { (name) } }
                }
            }
            button type="submit" { (tr.t("sync-preview-button")) }
        }
    }
}

fn actions_table(tr: &Tr, preview: &Preview, employees: &[(String, String)]) -> Markup {
    let name = |id: &str| {
        employees
            .iter()
            .find(|(e, _)| e == id)
            .map_or_else(|| id.to_owned(), |(_, n)| n.clone())
    };
    let count = |action: &str| {
        i64::try_from(preview.counts.get(action).copied().unwrap_or(0)).unwrap_or(i64::MAX)
    };
    html! {
        @if !preview.sync_enabled { p.notice #preview-sync-off { (tr.t("sync-preview-sync-off")) } }
        p #preview-counts { (tr.ta("sync-preview-counts", &[
            ("create", count("create").into()),
            ("update", count("update").into()),
            ("remove", (count("delete") + count("cancel") + count("unlink")).into()),
            ("skip", count("skip").into()),
        ])) }
        @if preview.actions.is_empty() {
            p #preview-empty { (tr.t("sync-preview-empty")) }
        } @else {
            div.table-wrap { table #preview {
                thead { tr {
                    th scope="col" { (tr.t("trace-col-action")) }
                    th scope="col" { (tr.t("trace-col-activity")) }
                    th scope="col" { (tr.t("sync-preview-col-title")) }
                    th scope="col" { (tr.t("sync-col-employee")) }
                    th scope="col" { (tr.t("sync-preview-col-rule")) }
                } }
                tbody { @for a in &preview.actions {
                    tr data-action=(a.action) {
                        td { (action_text(tr, &a.action)) }
                        td { code { (a.activity_key) } }
                        td { (a.title) @if let Some(start) = &a.start { br; small { (start) } } }
                        td.address { (name(&a.employee_id)) br; small { (a.mailbox) } }
                        td { code { (a.rule) } }
                    }
                } }
            } }
        }
    }
}

/// `GET /admin/sync/preview?employee=`.
pub async fn preview_page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
    Query(q): Query<PreviewQuery>,
) -> Response {
    let employee = q
        .employee
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let employees = match state.store.list_employees().await {
        Ok(list) => list
            .into_iter()
            .map(|e| (e.id, e.identifier))
            .collect::<Vec<_>>(),
        Err(e) => return failed(&ctx, e),
    };
    let planned = match preview(&state.calendar_ctx(), employee).await {
        Ok(p) => p,
        Err(e @ PreviewError::UnknownEmployee(_)) => {
            return failed(&ctx, AppError::NotFound(e.to_string()));
        }
        Err(PreviewError::Failed(reason)) => return failed(&ctx, AppError::Upstream(reason)),
    };
    let tr = &ctx.tr;
    let body = html! {
        p { a href=(HERE) { (tr.t("trace-back")) } }
        (launcher(tr, &employees))
        (actions_table(tr, &planned, &employees))
    };
    ctx.ok(TITLE, HERE, body)
}

fn failed(ctx: &Ctx, err: impl Into<AppError>) -> Response {
    let err = err.into();
    ctx.page(err.status(), TITLE, HERE, ctx.error_notice(&err))
}
