//! Add-in endpoints of the item cache: type-ahead lookup, suggestions for the people on an
//! e-mail or meeting, and recording the employee's picks (which rank later lookups).

use axum::{
    extract::{FromRef, Query, State},
    http::StatusCode,
};
use crm_bridge_wire::{LookupAnswer, Pick, SuggestRequest, Suggestions};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::ItemsCtx;
use super::{
    ItemKind,
    fold::{email_domain, normalize_email},
    index::Lookup,
};
use crate::{
    api_responses::{BadRequest, NotFound, Unauthorized},
    error::{AppError, AppJson},
    identity::{IdentityCtx, addin::AddinUser},
};

/// Longest query text accepted.
const MAX_QUERY_CHARS: usize = 200;
/// Most addresses one suggestion request may carry.
const MAX_ADDRESSES: usize = 100;

/// Routes of this module.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ItemsCtx: FromRef<S>,
    IdentityCtx: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(lookup))
        .routes(routes!(suggest))
        .routes(routes!(record_pick))
}

/// Query of a lookup.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LookupParams {
    /// `company`, `person`, `project` or `business_case`.
    pub kind: String,
    /// What the user typed (word prefixes; case and diacritics do not matter).
    #[serde(default)]
    pub q: String,
    /// Only records of this firm.
    pub company_id: Option<i64>,
    /// Only open projects/cases and valid firms/persons.
    #[serde(default)]
    pub open_only: bool,
    /// Most results (1–50, default 20).
    pub limit: Option<usize>,
}

/// Type-ahead lookup in the cached CRM records.
#[utoipa::path(
    get,
    path = "/api/addin/lookup",
    tag = "addin",
    params(LookupParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = LookupAnswer),
        BadRequest,
        Unauthorized
    )
)]
pub async fn lookup(
    State(state): State<ItemsCtx>,
    user: AddinUser,
    Query(params): Query<LookupParams>,
) -> Result<AppJson<LookupAnswer>, AppError> {
    let kind = ItemKind::parse(&params.kind).ok_or_else(|| {
        AppError::BadRequest("kind must be one of company, person, project, business_case".into())
    })?;
    if params.q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::BadRequest(format!(
            "q is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let limit = params.limit.unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return Err(AppError::BadRequest(
            "limit must be between 1 and 50".into(),
        ));
    }
    let recent = state
        .items
        .recent_picks(state.store.as_ref(), &user.employee.id, kind)
        .await?;
    let items = state.items.index().lookup(&Lookup {
        kind,
        text: &params.q,
        company_id: params.company_id,
        open_only: params.open_only,
        limit,
        recent: &recent,
        levels: user.employee.crm_security_levels.as_deref(),
    });
    Ok(AppJson(LookupAnswer { items }))
}

/// Suggests the CRM records that belong to the people on an e-mail or meeting.
#[utoipa::path(
    post,
    path = "/api/addin/suggest",
    tag = "addin",
    request_body = SuggestRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = Suggestions),
        BadRequest,
        Unauthorized
    )
)]
pub async fn suggest(
    State(state): State<ItemsCtx>,
    user: AddinUser,
    AppJson(request): AppJson<SuggestRequest>,
) -> Result<AppJson<Suggestions>, AppError> {
    if request.addresses.len() > MAX_ADDRESSES {
        return Err(AppError::BadRequest(format!(
            "at most {MAX_ADDRESSES} addresses"
        )));
    }
    // The employee's own colleagues share the employee's domain; it says nothing about the
    // customer.
    let own_domains: Vec<String> = [&user.employee.o365_email, &user.employee.login_email]
        .iter()
        .filter_map(|e| email_domain(e).map(str::to_owned))
        .collect();
    Ok(AppJson(suggestions(
        &state,
        &request.addresses,
        &own_domains,
        user.employee.crm_security_levels.as_deref(),
    )))
}

/// Builds suggestions for `addresses`, ignoring domains in `own_domains`, of the records on the
/// security `levels` the employee may see (`None`: every level).
pub fn suggestions(
    state: &ItemsCtx,
    addresses: &[String],
    own_domains: &[String],
    levels: Option<&[i64]>,
) -> Suggestions {
    let index = state.items.index();
    let mut out = Suggestions::default();
    let mut company_ids: Vec<i64> = Vec::new();
    let mut seen_addresses = Vec::new();
    for raw in addresses {
        let address = normalize_email(raw);
        if address.is_empty() || seen_addresses.contains(&address) {
            continue;
        }
        seen_addresses.push(address.clone());
        let mut matched_person = false;
        for view in index
            .with_email(&address)
            .into_iter()
            .filter(|v| v.visible_to(levels))
        {
            match view.kind {
                ItemKind::Person => {
                    matched_person = true;
                    company_ids.extend(view.company_id);
                    if !out.persons.iter().any(|p| p.id == view.id) {
                        out.persons.push(view);
                    }
                }
                _ => company_ids.push(view.id),
            }
        }
        if !matched_person {
            out.unmatched.push(address.clone());
        }
        if let Some(domain) = email_domain(&address)
            && !own_domains.iter().any(|d| d == domain)
        {
            company_ids.extend(index.companies_with_domain(domain));
        }
    }
    let mut seen = Vec::new();
    company_ids.retain(|id| {
        let new = !seen.contains(id);
        seen.push(*id);
        new
    });
    for company in company_ids {
        if let Some(view) = index
            .get(ItemKind::Company, company)
            .filter(|v| v.visible_to(levels))
        {
            out.companies.push(view);
        }
        for (kind, list) in [
            (ItemKind::Project, &mut out.projects),
            (ItemKind::BusinessCase, &mut out.business_cases),
        ] {
            list.extend(index.lookup(&Lookup {
                kind,
                text: "",
                company_id: Some(company),
                open_only: true,
                limit: 20,
                recent: &[],
                levels,
            }));
        }
    }
    out
}

/// Remembers a pick so it ranks first in the employee's later lookups.
#[utoipa::path(
    post,
    path = "/api/addin/picks",
    tag = "addin",
    request_body = Pick,
    security(("bearer" = [])),
    responses((status = 204), NotFound)
)]
pub async fn record_pick(
    State(state): State<ItemsCtx>,
    user: AddinUser,
    AppJson(pick): AppJson<Pick>,
) -> Result<StatusCode, AppError> {
    let levels = user.employee.crm_security_levels.as_deref();
    if !state
        .items
        .index()
        .get(pick.kind, pick.id)
        .is_some_and(|v| v.visible_to(levels))
    {
        return Err(AppError::NotFound("no such CRM record in the cache".into()));
    }
    state
        .items
        .record_pick(state.store.as_ref(), &user.employee.id, pick.kind, pick.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
