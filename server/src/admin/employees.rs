//! Employees: the service (`search`, `add`, `find`, `change`) that the admin API's handlers and
//! the admin pages both call, and the admin API: list/search, create, read and change. CRM API keys are write-only
//! (stored sealed, shown masked); an employee may read and change only their own record and
//! never their role, active flag or Office 365 e-mail (it binds the first Outlook sign-in, so
//! choosing a colleague's would capture theirs).

use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    api_responses::{AdminOnly, Conflict, Invalid, NotFound},
    email::EmailAddress,
    error::{AppError, AppJson},
    identity::{
        password,
        session::{AdminSession, RequireAdmin},
    },
    secrets::{employee_crm_key_aad, mask},
    service_errors::{EmployeeError, FieldProblems},
    settings::{CrmConnectionSettings, Setting},
    state::AppState,
    store::{Employee, EmployeeChanges, NewEmployee, Role},
};

/// An employee as the admin API shows it (no secrets).
#[derive(Debug, Serialize, ToSchema)]
pub struct EmployeeView {
    /// Id.
    pub id: String,
    /// Employee number or e-mail.
    pub identifier: String,
    /// Admin UI sign-in e-mail.
    pub login_email: String,
    /// CRM account e-mail.
    pub crm_user_email: String,
    /// Whether a CRM API key is stored.
    pub has_crm_api_key: bool,
    /// The stored key masked, such as `••••1234`.
    pub crm_api_key_masked: Option<String>,
    /// Office 365 e-mail (binds the first Outlook sign-in).
    pub o365_email: String,
    /// Whether an Outlook sign-in is bound.
    pub outlook_bound: bool,
    /// Role.
    pub role: Role,
    /// Active.
    pub active: bool,
    /// Whether a password is set for the admin UI.
    pub has_password: bool,
    /// Preferred language.
    pub language: Option<String>,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Changed (Unix ms).
    pub updated_at: i64,
}

fn view(state: &AppState, e: Employee) -> EmployeeView {
    let masked = e.crm_api_key_enc.as_deref().map(|enc| {
        match state.master_key.open(&employee_crm_key_aad(&e.id), enc) {
            Ok(key) => mask(&key),
            Err(_) => "•••• (unreadable)".to_owned(),
        }
    });
    EmployeeView {
        has_crm_api_key: e.crm_api_key_enc.is_some(),
        crm_api_key_masked: masked,
        outlook_bound: e.entra_oid.is_some(),
        has_password: e.password_hash.is_some(),
        id: e.id,
        identifier: e.identifier,
        login_email: e.login_email,
        crm_user_email: e.crm_user_email,
        o365_email: e.o365_email,
        role: e.role,
        active: e.active,
        language: e.language,
        created_at: e.created_at,
        updated_at: e.updated_at,
    }
}

/// Fields of a create or change; absent fields stay as they are. `crm_api_key` and `password`
/// are write-only; an empty `crm_api_key` removes the key.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeeInput {
    /// Employee number or e-mail.
    pub identifier: Option<String>,
    /// Admin UI sign-in e-mail (empty: cannot sign in).
    pub login_email: Option<String>,
    /// CRM account e-mail.
    pub crm_user_email: Option<String>,
    /// CRM API key (write-only).
    pub crm_api_key: Option<String>,
    /// Office 365 e-mail.
    pub o365_email: Option<String>,
    /// Role (admins only).
    pub role: Option<Role>,
    /// Active (admins only).
    pub active: Option<bool>,
    /// New admin UI password (write-only, at least 12 characters).
    pub password: Option<String>,
    /// Preferred language (`en`, `cs`, …).
    pub language: Option<String>,
}

impl std::fmt::Debug for EmployeeInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&changed_fields(self))
    }
}

fn validate(input: &EmployeeInput, creating: bool) -> Result<(), FieldProblems> {
    let mut fields = FieldProblems::default();
    if creating
        && input
            .identifier
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
    {
        fields.add("identifier", "is required");
    }
    if let Some(identifier) = &input.identifier {
        if identifier.trim().is_empty() {
            fields.add("identifier", "must not be empty");
        } else if identifier.len() > 200 {
            fields.add("identifier", "is longer than 200 characters");
        }
    }
    for (name, value) in [
        ("login_email", &input.login_email),
        ("crm_user_email", &input.crm_user_email),
        ("o365_email", &input.o365_email),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty())
            && !EmailAddress::is_valid(v)
        {
            fields.add(name, "is not an e-mail address");
        }
    }
    if let Some(key) = &input.crm_api_key
        && (key.len() > 500 || key.chars().any(char::is_control))
    {
        fields.add("crm_api_key", "is not a valid API key");
    }
    if let Some(p) = &input.password
        && p.chars().count() < password::MIN_LENGTH
    {
        fields.add(
            "password",
            format!("must have at least {} characters", password::MIN_LENGTH),
        );
    }
    if let Some(lang) = &input.language
        && (lang.len() > 16 || !lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        fields.add("language", "is not a language tag");
    }
    fields.check()
}

fn changed_fields(input: &EmployeeInput) -> String {
    let mut names = Vec::new();
    let flags = [
        ("identifier", input.identifier.is_some()),
        ("login_email", input.login_email.is_some()),
        ("crm_user_email", input.crm_user_email.is_some()),
        ("crm_api_key", input.crm_api_key.is_some()),
        ("o365_email", input.o365_email.is_some()),
        ("role", input.role.is_some()),
        ("active", input.active.is_some()),
        ("password", input.password.is_some()),
        ("language", input.language.is_some()),
    ];
    for (name, set) in flags {
        if set {
            names.push(name);
        }
    }
    format!("fields: {}", names.join(","))
}

async fn hash_password(password: Option<String>) -> Result<Option<String>, EmployeeError> {
    let Some(password) = password else {
        return Ok(None);
    };
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| EmployeeError::Hashing(e.to_string()))?
        .map(Some)
        .map_err(|e| {
            let mut problems = FieldProblems::default();
            problems.add("password", e.to_string());
            EmployeeError::Invalid(problems)
        })
}

async fn apply_secrets(
    state: &AppState,
    id: &str,
    crm_api_key: Option<&str>,
    password_hash: Option<&str>,
) -> Result<(), EmployeeError> {
    if let Some(key) = crm_api_key {
        let key = key.trim();
        let sealed =
            (!key.is_empty()).then(|| state.master_key.seal(&employee_crm_key_aad(id), key));
        // The key is bound to the CRM address it is entered for; see `CrmHub::for_employee`.
        let base_url = CrmConnectionSettings::load(state.store.as_ref())
            .await?
            .base_url;
        state
            .store
            .set_crm_api_key_enc(
                id,
                sealed.as_deref(),
                sealed.is_some().then_some(base_url.as_str()),
            )
            .await?;
    }
    if let Some(hash) = password_hash {
        state.store.set_password_hash(id, hash).await?;
    }
    Ok(())
}

/// Asks the CRM again which security levels the employee may see when their CRM account or
/// key changed. The CRM being unreachable does not fail the save: the reconcile retries.
async fn refresh_levels_on_account_change(state: &AppState, id: &str, input: &EmployeeInput) {
    if input.crm_api_key.is_none() && input.crm_user_email.is_none() {
        return;
    }
    let refreshed = async {
        let employee = state
            .store
            .employee(id)
            .await?
            .ok_or(crate::jobs::WorkError::Gone("no such employee".into()))?;
        crate::items::access::refresh_levels(&state.items_ctx(), &employee).await
    };
    if let Err(e) = refreshed.await {
        tracing::warn!(employee = %id, error = %e, "refreshing CRM security levels failed");
    }
}

/// Query of the employee list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Case-insensitive text found in the identifier or any e-mail.
    pub q: Option<String>,
}

/// Lists employees, optionally filtered by `q` (admins only).
#[utoipa::path(
    get,
    path = "/api/admin/employees",
    tag = "admin",
    params(ListQuery),
    responses((status = 200, body = Vec<EmployeeView>), AdminOnly)
)]
pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_session): RequireAdmin,
    Query(query): Query<ListQuery>,
) -> Result<AppJson<Vec<EmployeeView>>, AppError> {
    Ok(AppJson(search(&state, query.q.as_deref()).await?))
}

/// The employees whose identifier or an e-mail contains `q` (all for `None`).
pub async fn search(state: &AppState, q: Option<&str>) -> Result<Vec<EmployeeView>, EmployeeError> {
    let needle = q.unwrap_or_default().trim().to_lowercase();
    if needle.len() > 200 {
        return Err(EmployeeError::BadQuery("q is longer than 200 characters"));
    }
    let employees = state.store.list_employees().await?;
    Ok(employees
        .into_iter()
        .filter(|e| {
            needle.is_empty()
                || [
                    &e.identifier,
                    &e.login_email,
                    &e.crm_user_email,
                    &e.o365_email,
                ]
                .iter()
                .any(|f| f.to_lowercase().contains(&needle))
        })
        .map(|e| view(state, e))
        .collect())
}

/// Creates an employee.
#[utoipa::path(
    post,
    path = "/api/admin/employees",
    tag = "admin",
    request_body = EmployeeInput,
    responses(
        (status = 201, body = EmployeeView),
        AdminOnly,
        Conflict,
        Invalid
    )
)]
pub async fn create(
    State(state): State<AppState>,
    RequireAdmin(session): RequireAdmin,
    AppJson(input): AppJson<EmployeeInput>,
) -> Result<(axum::http::StatusCode, AppJson<EmployeeView>), AppError> {
    let created = add(&state, &session, &input).await?;
    Ok((axum::http::StatusCode::CREATED, AppJson(created)))
}

/// Creates an employee from `input` on behalf of the admin `session`.
pub async fn add(
    state: &AppState,
    session: &AdminSession,
    input: &EmployeeInput,
) -> Result<EmployeeView, EmployeeError> {
    if !session.is_admin() {
        return Err(EmployeeError::Forbidden("this needs the admin role"));
    }
    validate(input, true)?;
    let password_hash = hash_password(input.password.clone()).await?;
    let created = state
        .store
        .create_employee(NewEmployee {
            identifier: input.identifier.clone().unwrap_or_default(),
            login_email: input.login_email.clone().unwrap_or_default(),
            password_hash: None,
            admin: input.role == Some(Role::Admin),
            crm_user_email: input.crm_user_email.clone().unwrap_or_default(),
            crm_api_key_enc: None,
            o365_email: input.o365_email.clone().unwrap_or_default(),
        })
        .await?;
    apply_secrets(
        state,
        &created.id,
        input.crm_api_key.as_deref(),
        password_hash.as_deref(),
    )
    .await?;
    refresh_levels_on_account_change(state, &created.id, input).await;
    if input.active == Some(false) || input.language.is_some() {
        state
            .store
            .update_employee(
                &created.id,
                EmployeeChanges {
                    active: input.active,
                    language: input.language.clone(),
                    ..EmployeeChanges::default()
                },
            )
            .await?;
    }
    session
        .audit(
            state.store.as_ref(),
            "employee.create",
            &format!("employee:{}", created.id),
            changed_fields(input),
        )
        .await?;
    let employee = state
        .store
        .employee(&created.id)
        .await?
        .ok_or(EmployeeError::NotFound("the employee vanished"))?;
    Ok(view(state, employee))
}

fn may_see(session: &AdminSession, id: &str) -> Result<(), EmployeeError> {
    if session.is_admin() || session.employee.id == id {
        Ok(())
    } else {
        Err(EmployeeError::Forbidden(
            "you may see and change only your own record",
        ))
    }
}

/// One employee (an employee may read only their own record).
#[utoipa::path(
    get,
    path = "/api/admin/employees/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "Employee id")),
    responses(
        (status = 200, body = EmployeeView),
        AdminOnly,
        NotFound
    )
)]
pub async fn get_one(
    State(state): State<AppState>,
    session: AdminSession,
    Path(id): Path<String>,
) -> Result<AppJson<EmployeeView>, AppError> {
    Ok(AppJson(find(&state, &session, &id).await?))
}

/// The employee `id`, as `session` may see it.
pub async fn find(
    state: &AppState,
    session: &AdminSession,
    id: &str,
) -> Result<EmployeeView, EmployeeError> {
    may_see(session, id)?;
    let employee = state
        .store
        .employee(id)
        .await?
        .ok_or(EmployeeError::NotFound("no such employee"))?;
    Ok(view(state, employee))
}

/// Changes an employee (an employee may change only their own record, not role, active or the
/// Office 365 e-mail).
#[utoipa::path(
    put,
    path = "/api/admin/employees/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "Employee id")),
    request_body = EmployeeInput,
    responses(
        (status = 200, body = EmployeeView),
        AdminOnly,
        NotFound,
        Invalid
    )
)]
pub async fn update(
    State(state): State<AppState>,
    session: AdminSession,
    Path(id): Path<String>,
    AppJson(input): AppJson<EmployeeInput>,
) -> Result<AppJson<EmployeeView>, AppError> {
    Ok(AppJson(change(&state, &session, &id, &input).await?))
}

/// Changes the employee `id` as `input` says, on behalf of `session`.
pub async fn change(
    state: &AppState,
    session: &AdminSession,
    id: &str,
    input: &EmployeeInput,
) -> Result<EmployeeView, EmployeeError> {
    let id = id.to_owned();
    may_see(session, &id)?;
    if !session.is_admin()
        && (input.role.is_some() || input.active.is_some() || input.o365_email.is_some())
    {
        return Err(EmployeeError::Forbidden(
            "only an admin may change role, active or the Office 365 e-mail",
        ));
    }
    validate(input, false)?;
    if state.store.employee(&id).await?.is_none() {
        return Err(EmployeeError::NotFound("no such employee"));
    }
    if session.employee.id == id
        && (input.role == Some(Role::Employee) || input.active == Some(false))
    {
        return Err(EmployeeError::Conflict(
            "you cannot demote or deactivate yourself",
        ));
    }
    let password_hash = hash_password(input.password.clone()).await?;
    state
        .store
        .update_employee(
            &id,
            EmployeeChanges {
                identifier: input.identifier.clone(),
                login_email: input.login_email.clone(),
                crm_user_email: input.crm_user_email.clone(),
                o365_email: input.o365_email.clone(),
                role: input.role,
                active: input.active,
                language: input.language.clone(),
            },
        )
        .await?;
    apply_secrets(
        state,
        &id,
        input.crm_api_key.as_deref(),
        password_hash.as_deref(),
    )
    .await?;
    refresh_levels_on_account_change(state, &id, input).await;
    if input.active == Some(false) || input.password.is_some() {
        let keep = (session.employee.id == id).then(|| session.session_hash());
        state.store.delete_sessions_of(&id, keep).await?;
    }
    session
        .audit(
            state.store.as_ref(),
            "employee.update",
            &format!("employee:{id}"),
            changed_fields(input),
        )
        .await?;
    let employee = state
        .store
        .employee(&id)
        .await?
        .ok_or(EmployeeError::NotFound("no such employee"))?;
    Ok(view(state, employee))
}
