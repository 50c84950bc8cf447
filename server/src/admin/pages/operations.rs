//! Operations pages: Import (run button, live progress per kind over SSE, history), Health
//! (webhook events, job queue and failed jobs with retry, last import, CRM quota) and the Audit
//! log. Live parts are filled by `admin.js` from the JSON endpoints of the import, webhook and
//! jobs APIs; the strings it shows come from the catalogs through `data-t-*` attributes.

use axum::{
    extract::{Query, State},
    response::Response,
};
use maud::{Markup, html};

use super::{Ctx, Flash, flash, settings::admin_or_return};
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
pub async fn import_page(ctx: Ctx, query: Query<Flash>) -> Response {
    admin_or_return!(ctx, "/admin/import");
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
pub async fn health_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    admin_or_return!(ctx, "/admin/health");
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
    let body = html! {
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
    };
    ctx.ok(tkey!("health-title"), "/admin/health", body)
}

/// `GET /admin/audit`: the newest 200 entries.
pub async fn audit_page(State(state): State<AppState>, ctx: Ctx) -> Response {
    admin_or_return!(ctx, "/admin/audit");
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
    let body = html! {
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
                        @for e in &entries {
                            tr {
                                td { (tr.datetime_ms(e.at)) }
                                td { (e.actor) }
                                td { code { (e.action) } }
                                td { (e.target) }
                                td { (e.detail) }
                            }
                        }
                    }
                }
            }
        }
    };
    ctx.ok(tkey!("audit-title"), "/admin/audit", body)
}
