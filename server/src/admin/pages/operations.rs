//! Operations pages: Import (run button, live progress per kind over SSE, history), Health
//! (webhook events, job queue and failed jobs with retry, last import, CRM quota) and the Audit
//! log. Live parts are filled by `admin.js` from the JSON endpoints of the import, webhook and
//! jobs APIs; the strings it shows come from the catalogs through `data-t-*` attributes.

use axum::{
    extract::{Query, State},
    response::Response,
};
use maud::{Markup, html};

use super::{AdminPage, Flash, flash};
use crate::{
    i18n::Tr,
    settings::{Setting, WebhookSettings},
    state::AppState,
};

/// The import kinds in display order with their label keys.
const KINDS: [(&str, &str); 4] = [
    ("company", tkey!("kind-company")),
    ("person", tkey!("kind-person")),
    ("project", tkey!("kind-project")),
    ("business_case", tkey!("kind-business-case")),
];

/// `data-t-*` attributes: strings `admin.js` shows, with `{name}` placeholders it fills in.
pub(super) fn js_strings(tr: &Tr) -> Markup {
    let p = |name: &str| format!("{{{name}}}");
    html! {
        div #i18n hidden
            data-t-queued=(tr.t("import-status-queued"))
            data-t-running=(tr.t("import-status-running"))
            data-t-done=(tr.t("import-status-done"))
            data-t-failed=(tr.t("import-status-failed"))
            data-t-progress=(tr.ta("import-progress", &[("done", p("done").into()), ("total", p("total").into())]))
            data-t-progress-unknown=(tr.ta("import-progress-unknown", &[("done", p("done").into())]))
            data-t-rate=(tr.ta("import-rate", &[("rate", p("rate").into())]))
            data-t-errors=(tr.ta("import-errors", &[("errors", p("errors").into())]))
            data-t-eta=(tr.ta("import-eta", &[("eta", p("eta").into())]))
            data-t-estimating=(tr.t("import-eta-estimating"))
            data-t-records=(tr.ta("health-import-records", &[("count", p("count").into())]))
            data-t-no-failed=(tr.t("health-no-failed-jobs"))
            data-t-unavailable=(tr.t("not-available"))
            data-t-never=(tr.t("webhook-never"))
            data-t-none=(tr.t("nothing-yet"))
            data-t-retry=(tr.t("jobs-retry"))
            data-t-retried=(tr.t("jobs-retried"))
            data-t-busy=(tr.t("import-already-running"))
            data-lang=(tr.lang.tag()) {}
    }
}

/// `GET /admin/import`.
pub async fn import_page(AdminPage { ctx, .. }: AdminPage, query: Query<Flash>) -> Response {
    let tr = &ctx.tr;
    let body = html! {
        (flash(tr, &query))
        (js_strings(tr))
        section.card #import {
            p { (tr.t("import-intro")) }
            button #run-import.primary type="button" { (tr.t("import-run")) }
            p #import-status role="status" aria-live="polite" {}
            div.bars {
                @for (kind, key) in KINDS {
                    div.bar {
                        label for=(format!("bar-{kind}")) { (tr.t(key)) }
                        progress id=(format!("bar-{kind}")) max="100" value="0" data-kind=(kind) {}
                        span.detail id=(format!("detail-{kind}")) {}
                    }
                }
            }
            p #import-eta {}
            p #import-error.field-error role="alert" {}
        }
        section.card {
            h2 { (tr.t("import-history")) }
            div.table-wrap {
                table #import-history {
                    thead { tr {
                        th scope="col" { (tr.t("import-started")) }
                        th scope="col" { (tr.t("import-finished")) }
                        th scope="col" { (tr.t("import-status")) }
                        th scope="col" { (tr.t("import-items")) }
                        th scope="col" { (tr.t("import-error")) }
                    } }
                    tbody { tr { td colspan="5" { (tr.t("loading-data")) } } }
                }
            }
        }
    };
    ctx.ok(tkey!("import-title"), "/admin/import", body)
}

/// `GET /admin/health`.
pub async fn health_page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
) -> Response {
    let tr = &ctx.tr;
    let hook = WebhookSettings::load(state.store.as_ref())
        .await
        .unwrap_or_default();
    let quota = match state
        .crm
        .admin(state.store.as_ref(), &state.master_key)
        .await
    {
        Ok(crm) => crm.quota(),
        Err(_) => None,
    };
    let registered = match (hook.crm_webhook_id.is_some(), hook.registered_at) {
        (true, Some(at)) => tr.ta(
            "webhook-registered-at",
            &[("at", tr.datetime_ms(at).into())],
        ),
        (true, None) => tr.t("webhook-registered"),
        _ => tr.t("webhook-not-registered"),
    };
    let rejected = crate::admin::webhook::webhook_status(&state)
        .await
        .map(|s| (s.events.rejected, s.events.last_rejected_at))
        .unwrap_or_default();
    let body = health_body(tr, &registered, rejected, quota);
    ctx.ok(tkey!("health-title"), "/admin/health", body)
}

fn health_body(
    tr: &Tr,
    registered: &str,
    rejected: (i64, Option<i64>),
    quota: Option<crate::crm::Quota>,
) -> Markup {
    html! {
        (js_strings(tr))
        section.card #health-webhook {
            h2 { (tr.t("health-webhook")) }
            dl.facts {
                dt { (tr.t("webhook-status")) } dd { (registered) }
                dt { (tr.t("webhook-last-event")) } dd data-webhook-last { "—" }
                dt { (tr.t("webhook-events-today")) } dd data-webhook-today { "—" }
                dt { (tr.t("health-events-pending")) } dd data-webhook-pending { "—" }
                dt { (tr.t("health-events-failed")) } dd data-webhook-failed { "—" }
                dt { (tr.t("health-webhook-rejected")) }
                dd data-webhook-rejected .failure[rejected.0 > 0] {
                    (tr.number(rejected.0))
                    @if let Some(at) = rejected.1 { " (" (tr.datetime_ms(at)) ")" }
                }
            }
        }
        section.card #health-jobs {
            h2 { (tr.t("health-jobs")) }
            dl.facts {
                dt { (tr.t("health-queue-depth")) } dd data-jobs-queued { "—" }
                dt { (tr.t("health-failed-jobs")) } dd data-jobs-failed { "—" }
            }
            div.table-wrap {
                table #failed-jobs {
                    thead { tr {
                        th scope="col" { (tr.t("jobs-kind")) }
                        th scope="col" { (tr.t("jobs-attempts")) }
                        th scope="col" { (tr.t("jobs-reason")) }
                        th scope="col" { (tr.t("jobs-created")) }
                        th scope="col" { span.sr-only { (tr.t("jobs-actions")) } }
                    } }
                    tbody {}
                }
            }
        }
        section.card #health-import {
            h2 { (tr.t("health-last-import")) }
            p data-last-import { "—" }
        }
        section.card #health-crm {
            h2 { (tr.t("health-crm-quota")) }
            @match quota.and_then(|q| q.remaining.map(|r| (r, q.limit))) {
                Some((remaining, Some(limit))) => p { (tr.ta("crm-test-quota", &[
                    ("remaining", tr.number(i64::try_from(remaining).unwrap_or(i64::MAX)).into()),
                    ("limit", tr.number(i64::try_from(limit).unwrap_or(i64::MAX)).into())])) },
                Some((remaining, None)) => p { (tr.ta("crm-test-quota-nolimit", &[
                    ("remaining", tr.number(i64::try_from(remaining).unwrap_or(i64::MAX)).into())])) },
                None => p { (tr.t("health-quota-unknown")) },
            }
        }
    }
}

/// `GET /admin/audit`: the newest 200 entries.
pub async fn audit_page(
    State(state): State<AppState>,
    AdminPage { ctx, .. }: AdminPage,
) -> Response {
    let tr = &ctx.tr;
    let entries = match state.store.list_audit(200).await {
        Ok(e) => e,
        Err(e) => {
            let e = e.into();
            return ctx.page(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                tkey!("audit-title"),
                "/admin/audit",
                ctx.error_notice(&e),
            );
        }
    };
    let names = employee_names(&state).await;
    let body = audit_body(tr, &entries, &names);
    ctx.ok(tkey!("audit-title"), "/admin/audit", body)
}

/// Employees by id, as audit targets name them (deleted ones keep their id).
async fn employee_names(state: &AppState) -> std::collections::HashMap<String, String> {
    state
        .store
        .list_employees()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let name = if e.login_email.is_empty() || e.login_email == e.identifier {
                e.identifier
            } else {
                format!("{} ({})", e.identifier, e.login_email)
            };
            (e.id, name)
        })
        .collect()
}

fn audit_body(
    tr: &Tr,
    entries: &[crate::store::AuditEntry],
    names: &std::collections::HashMap<String, String>,
) -> Markup {
    html! {
        @if entries.is_empty() {
            p { (tr.t("audit-empty")) }
        } @else {
            div.table-wrap {
                table #audit {
                    thead { tr {
                        th scope="col" { (tr.t("audit-at")) }
                        th scope="col" { (tr.t("audit-actor")) }
                        th scope="col" { (tr.t("audit-action")) }
                        th scope="col" { (tr.t("audit-target")) }
                        th scope="col" { (tr.t("audit-detail")) }
                    } }
                    tbody {
                        @for e in entries {
                            tr {
                                td { (tr.datetime_ms(e.at)) }
                                td { (audit_actor(tr, &e.actor)) }
                                td { (audit_action(tr, &e.action)) }
                                td { (audit_target(tr, &e.target, names)) }
                                td { (audit_detail(tr, &e.detail)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An audit action code in words (an unknown code is shown as it is).
fn audit_action(tr: &Tr, action: &str) -> String {
    let key = match action {
        "company.update" => tkey!("audit-action-company-update"),
        "crm.update" => tkey!("audit-action-crm-update"),
        "sync.update" => tkey!("audit-action-sync-update"),
        "calendar.update" => tkey!("audit-action-calendar-update"),
        "calendar.employee" => tkey!("audit-action-calendar-employee"),
        "office365.update" => tkey!("audit-action-office365-update"),
        "employee.create" => tkey!("audit-action-employee-create"),
        "employee.update" => tkey!("audit-action-employee-update"),
        "password.change" => tkey!("audit-action-password-change"),
        "import.start" => tkey!("audit-action-import-start"),
        "job.retry" => tkey!("audit-action-job-retry"),
        "webhook.generate" => tkey!("audit-action-webhook-generate"),
        "webhook.create" => tkey!("audit-action-webhook-create"),
        "webhook.delete" => tkey!("audit-action-webhook-delete"),
        "webhook.manual_token" => tkey!("audit-action-webhook-manual-token"),
        other => return other.to_owned(),
    };
    tr.t(key)
}

/// What an action concerned, in words: employees by name, settings by page name.
fn audit_target(
    tr: &Tr,
    target: &str,
    names: &std::collections::HashMap<String, String>,
) -> String {
    match target.split_once(':') {
        Some(("employee", id)) => names
            .get(id)
            .cloned()
            .unwrap_or_else(|| tr.t("audit-target-removed-employee")),
        Some(("settings", page)) => tr.t(match page {
            "company" => tkey!("nav-company"),
            "crm_connection" => tkey!("nav-crm"),
            "webhook" => tkey!("nav-webhook"),
            "office365" => tkey!("nav-office365"),
            "sync" => tkey!("nav-sync"),
            _ => return target.to_owned(),
        }),
        Some(("import", _)) => tr.t("audit-target-import"),
        _ => target.to_owned(),
    }
}

fn audit_actor(tr: &Tr, actor: &str) -> String {
    match actor {
        "setup-link" => tr.t("audit-actor-setup-link"),
        other => other.to_owned(),
    }
}

fn audit_detail(tr: &Tr, detail: &str) -> String {
    match detail {
        "first admin" => tr.t("audit-detail-first-admin"),
        other => other.to_owned(),
    }
}
