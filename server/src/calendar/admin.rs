//! The JSON admin API of calendar sync: settings (`/api/admin/calendar`), the sync rules
//! (`/api/admin/calendar/rules`), per-employee opt-in, overrides and status
//! (`/api/admin/calendar/employees`), the per-item trace (`/api/admin/calendar/trace`), the dry
//! run (`/api/admin/calendar/preview`) and "sync now" for one activity
//! (`/api/admin/calendar/sync`).

use axum::{
    extract::{Path, Query, State},
    response::IntoResponse,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    ActivityKind, CalendarCtx, CalendarSettings, SyncRules, enqueue,
    preview::{Preview, PreviewError},
    service::{AppTest, EmployeeOverrides},
};
use crate::{
    error::{AppError, AppJson},
    identity::session::RequireAdmin,
    settings::Setting,
    store::TraceEntry,
};

/// The routes.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    CalendarCtx: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(list_employees))
        .routes(routes!(set_employee))
        .routes(routes!(set_overrides))
        .routes(routes!(get_rules, put_rules))
        .routes(routes!(preview))
        .routes(routes!(list_trace))
        .routes(routes!(sync_now))
        .routes(routes!(test_mailbox))
}

/// The calendar-sync settings.
#[utoipa::path(get, path = "/api/admin/calendar", tag = "admin",
    responses((status = 200, body = CalendarSettings), crate::api_responses::AdminOnly))]
pub async fn get_settings(
    State(state): State<CalendarCtx>,
    RequireAdmin(_session): RequireAdmin,
) -> Result<AppJson<CalendarSettings>, AppError> {
    Ok(AppJson(CalendarSettings::load(state.store.as_ref()).await?))
}

/// Replaces the calendar-sync settings.
#[utoipa::path(put, path = "/api/admin/calendar", tag = "admin", request_body = CalendarSettings,
    responses((status = 200, body = CalendarSettings), crate::api_responses::BadRequest,
        crate::api_responses::AdminOnly))]
pub async fn put_settings(
    State(state): State<CalendarCtx>,
    RequireAdmin(session): RequireAdmin,
    AppJson(mut input): AppJson<CalendarSettings>,
) -> Result<AppJson<CalendarSettings>, AppError> {
    input.validate().map_err(AppError::BadRequest)?;
    super::service::save_settings(&state, &session, &mut input).await?;
    Ok(AppJson(input))
}

/// One employee's calendar-sync status.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmployeeStatus {
    /// Employee id.
    pub employee_id: String,
    /// Office 365 mailbox.
    pub mailbox: String,
    /// Opted in (by the admin's choice for this employee, or by the default).
    pub enabled: bool,
    /// The admin chose `enabled` for this employee (otherwise it is the default).
    pub opt_in_set: bool,
    /// The employee's own sync start date (`YYYY-MM-DD`); `null`: the global one.
    pub start_date: Option<String>,
    /// Last successful sync (Unix ms).
    pub last_sync_at: Option<i64>,
    /// Activities whose event is in the mailbox.
    pub items_in_sync: usize,
    /// The last error.
    pub last_error: Option<String>,
    /// When the last backfill of the calendar finished (Unix ms).
    pub backfilled_at: Option<i64>,
    /// A backfill is under way.
    pub backfilling: bool,
}

/// Every employee's calendar-sync status.
#[utoipa::path(get, path = "/api/admin/calendar/employees", tag = "admin",
    responses((status = 200, body = Vec<EmployeeStatus>), crate::api_responses::AdminOnly))]
pub async fn list_employees(
    State(state): State<CalendarCtx>,
    RequireAdmin(_session): RequireAdmin,
) -> Result<AppJson<Vec<EmployeeStatus>>, AppError> {
    Ok(AppJson(employee_statuses(&state).await?))
}

/// Every employee's calendar-sync status (the admin API and `crm-bridge sync status`).
pub async fn employee_statuses(state: &CalendarCtx) -> Result<Vec<EmployeeStatus>, AppError> {
    let store = state.store.as_ref();
    let states = store.calendar_employees().await?;
    let by_default = SyncRules::load(store).await?.opt_in_by_default;
    let mut out = Vec::new();
    for e in store.list_employees().await? {
        let cal = states.iter().find(|s| s.employee_id == e.id);
        let links = store.calendar_links_of(&e.id).await?;
        out.push(EmployeeStatus {
            employee_id: e.id.clone(),
            mailbox: e.o365_email.clone(),
            enabled: cal.map_or(by_default, |c| c.opted_in(by_default)),
            opt_in_set: cal.is_some_and(|c| c.opt_in_set),
            start_date: cal.and_then(|c| c.start_date.clone()),
            last_sync_at: cal.and_then(|c| c.last_sync_at),
            items_in_sync: links.iter().filter(|l| l.event_id.is_some()).count(),
            last_error: cal.and_then(|c| c.last_error.clone()),
            backfilled_at: cal.and_then(|c| c.backfilled_at),
            backfilling: cal.is_some_and(|c| c.backfill_cursor.is_some()),
        });
    }
    Ok(out)
}

/// Opt-in or -out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeeInput {
    /// Sync this employee's calendar.
    pub enabled: bool,
}

/// Opts an employee in or out of calendar sync.
#[utoipa::path(put, path = "/api/admin/calendar/employees/{id}", tag = "admin",
    params(("id" = String, Path, description = "Employee id")), request_body = EmployeeInput,
    responses((status = 204), crate::api_responses::NotFound, crate::api_responses::AdminOnly))]
pub async fn set_employee(
    State(state): State<CalendarCtx>,
    RequireAdmin(session): RequireAdmin,
    Path(id): Path<String>,
    AppJson(input): AppJson<EmployeeInput>,
) -> Result<axum::http::StatusCode, AppError> {
    if !super::service::set_employee_enabled(&state, &session, &id, input.enabled).await? {
        return Err(AppError::NotFound("no such employee".into()));
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Sets an employee's overrides of the admin's defaults: opt-in (`null`: the default) and
/// start date (`null`: the global one).
#[utoipa::path(put, path = "/api/admin/calendar/employees/{id}/overrides", tag = "admin",
    params(("id" = String, Path, description = "Employee id")), request_body = EmployeeOverrides,
    responses((status = 204), crate::api_responses::Invalid, crate::api_responses::NotFound,
        crate::api_responses::AdminOnly))]
pub async fn set_overrides(
    State(state): State<CalendarCtx>,
    RequireAdmin(session): RequireAdmin,
    Path(id): Path<String>,
    AppJson(input): AppJson<EmployeeOverrides>,
) -> Result<axum::http::StatusCode, AppError> {
    if !super::service::set_employee_overrides(&state, &session, &id, input).await? {
        return Err(AppError::NotFound("no such employee".into()));
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The sync rules (every activity type written out).
#[utoipa::path(get, path = "/api/admin/calendar/rules", tag = "admin",
    responses((status = 200, body = SyncRules), crate::api_responses::AdminOnly))]
pub async fn get_rules(
    State(state): State<CalendarCtx>,
    RequireAdmin(_session): RequireAdmin,
) -> Result<AppJson<SyncRules>, AppError> {
    Ok(AppJson(
        SyncRules::load(state.store.as_ref()).await?.complete(),
    ))
}

/// Replaces the sync rules; fields left out keep their defaults. Out-of-range safety valves
/// and a too long cancellation message are answered 422 with the fields named.
#[utoipa::path(put, path = "/api/admin/calendar/rules", tag = "admin", request_body = SyncRules,
    responses((status = 200, body = SyncRules), crate::api_responses::BadRequest,
        crate::api_responses::Invalid, crate::api_responses::AdminOnly))]
pub async fn put_rules(
    State(state): State<CalendarCtx>,
    RequireAdmin(session): RequireAdmin,
    AppJson(input): AppJson<SyncRules>,
) -> Result<AppJson<SyncRules>, AppError> {
    Ok(AppJson(
        super::service::save_rules(&state, &session, input).await?,
    ))
}

/// Whose sync to preview.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PreviewQuery {
    /// One employee (id or sign-in e-mail; planned even when not opted in); everyone opted in
    /// when left out.
    pub employee: Option<String>,
}

/// The dry run: what the next sync would do (every planned action with the rule that decided
/// it), planned as if sync were on; writes nothing.
#[utoipa::path(get, path = "/api/admin/calendar/preview", tag = "admin", params(PreviewQuery),
    responses((status = 200, body = Preview), crate::api_responses::NotFound,
        crate::api_responses::Upstream, crate::api_responses::AdminOnly))]
pub async fn preview(
    State(state): State<CalendarCtx>,
    RequireAdmin(_session): RequireAdmin,
    Query(q): Query<PreviewQuery>,
) -> Result<AppJson<Preview>, AppError> {
    let employee = q
        .employee
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    match super::preview::preview(&state, employee).await {
        Ok(p) => Ok(AppJson(p)),
        Err(e @ PreviewError::UnknownEmployee(_)) => Err(AppError::NotFound(e.to_string())),
        Err(PreviewError::Failed(reason)) => Err(AppError::Upstream(reason)),
    }
}

/// Trace filter and page.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TraceQuery {
    /// Only this employee's decisions.
    pub employee_id: Option<String>,
    /// Only this activity's decisions (`raynet:meeting:81`).
    pub activity: Option<String>,
    /// Skip this many of the newest (default 0).
    pub offset: Option<u64>,
    /// At most this many, 1 to 500 (default 100).
    pub limit: Option<u64>,
}

/// Sync decisions, newest first, a page at a time. When older ones exist the `Link` header names
/// the next page (`rel="next"`), and after the first page the previous one (`rel="prev"`).
#[utoipa::path(get, path = "/api/admin/calendar/trace", tag = "admin", params(TraceQuery),
    responses((status = 200, body = Vec<TraceEntry>,
        headers(("Link" = String, description = "The older and newer pages"))),
        crate::api_responses::BadRequest, crate::api_responses::AdminOnly))]
pub async fn list_trace(
    State(state): State<CalendarCtx>,
    RequireAdmin(_session): RequireAdmin,
    Query(q): Query<TraceQuery>,
) -> Result<impl IntoResponse, AppError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::BadRequest("limit must be from 1 to 500".into()));
    }
    let offset = q.offset.unwrap_or(0);
    let (entries, more) = super::service::trace_page(
        &state,
        q.employee_id.as_deref(),
        q.activity.as_deref(),
        offset,
        limit,
    )
    .await?;
    let page_url = |offset: u64| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(e) = &q.employee_id {
            query.append_pair("employee_id", e);
        }
        if let Some(a) = &q.activity {
            query.append_pair("activity", a);
        }
        query.append_pair("offset", &offset.to_string());
        query.append_pair("limit", &limit.to_string());
        format!("</api/admin/calendar/trace?{}>", query.finish())
    };
    let mut links = Vec::new();
    if more {
        links.push(format!(
            "{}; rel=\"next\"",
            page_url(offset.saturating_add(limit))
        ));
    }
    if offset > 0 {
        links.push(format!(
            "{}; rel=\"prev\"",
            page_url(offset.saturating_sub(limit))
        ));
    }
    let mut headers = axum::http::HeaderMap::new();
    if let Ok(value) = axum::http::HeaderValue::from_str(&links.join(", "))
        && !links.is_empty()
    {
        headers.insert(axum::http::header::LINK, value);
    }
    Ok((headers, AppJson(entries)))
}

/// An activity to sync now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncNowInput {
    /// `meeting`, `event`, `task`, `phoneCall` or `letter`.
    #[schema(value_type = String)]
    pub kind: ActivityKind,
    /// CRM id.
    pub id: i64,
}

/// Queues a sync of one activity.
#[utoipa::path(post, path = "/api/admin/calendar/sync", tag = "admin", request_body = SyncNowInput,
    responses((status = 202), crate::api_responses::AdminOnly))]
pub async fn sync_now(
    State(state): State<CalendarCtx>,
    RequireAdmin(_session): RequireAdmin,
    AppJson(input): AppJson<SyncNowInput>,
) -> Result<axum::http::StatusCode, AppError> {
    if input.id <= 0 {
        return Err(AppError::BadRequest("id must be positive".into()));
    }
    enqueue(state.store.as_ref(), &state.jobs, input.kind, input.id).await?;
    Ok(axum::http::StatusCode::ACCEPTED)
}

/// A mailbox to test the Office 365 app against.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestInput {
    /// The mailbox whose calendar is read.
    pub mailbox: String,
}

/// What the test found.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestOutcome {
    /// `ok`, `bad_credentials`, `bad_tenant`, `no_consent`, `mailbox_not_found`, `unavailable`
    /// or `rejected`.
    pub outcome: String,
    /// Details in words.
    pub detail: String,
}

/// Obtains a Graph app-only token and reads the calendar of `mailbox`: tells a wrong secret,
/// missing admin consent (`Calendars.ReadWrite`), an unknown mailbox and success apart.
#[utoipa::path(post, path = "/api/admin/calendar/test", tag = "admin", request_body = TestInput,
    responses((status = 200, body = TestOutcome), crate::api_responses::AdminOnly))]
pub async fn test_mailbox(
    State(state): State<CalendarCtx>,
    RequireAdmin(_session): RequireAdmin,
    AppJson(input): AppJson<TestInput>,
) -> Result<AppJson<TestOutcome>, AppError> {
    let mailbox = input.mailbox.trim().to_lowercase();
    if !mailbox.contains('@') {
        return Err(AppError::BadRequest(
            "mailbox must be an e-mail address".into(),
        ));
    }
    let o365 = crate::identity::office365::Office365Settings::load(&state.identity).await?;
    let outcome = super::service::test_app(&state, &o365, Some(&mailbox)).await;
    Ok(AppJson(TestOutcome {
        outcome: outcome.code().into(),
        detail: match outcome {
            AppTest::Passed { .. } => format!("the calendar of {mailbox} can be read and written"),
            AppTest::Incomplete(reason) => reason,
            AppTest::Failed(e) => e.to_string(),
        },
    }))
}
