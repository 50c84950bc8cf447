//! Company data (name, IČO, DIČ): validation and saving shared by `GET/PUT /api/admin/company`
//! and the Company page.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::Problems;
use crate::service_errors::SaveError;
use crate::{
    api_responses::{AdminOnly, Invalid},
    error::{AppError, AppJson},
    identity::session::{AdminSession, RequireAdmin},
    settings::{CompanySettings, Setting},
    state::AppState,
};

/// Whether `ico` is 8 digits whose last digit is the modulo-11 check digit.
pub fn ico_is_valid(ico: &str) -> bool {
    let digits: Vec<u32> = ico.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 8 || ico.chars().count() != 8 {
        return false;
    }
    let sum: u32 = digits[..7]
        .iter()
        .zip((2..=8).rev())
        .map(|(d, w)| d * w)
        .sum();
    let check = (11 - sum % 11) % 10;
    digits[7] == check
}

/// Whether `dic` is `CZ` followed by 8 to 10 digits.
pub fn dic_is_valid(dic: &str) -> bool {
    dic.strip_prefix("CZ").is_some_and(|rest| {
        (8..=10).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_digit())
    })
}

/// Company data as typed: the form's fields, or the JSON body (every field required).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyInput {
    /// Company name (required, at most 200 characters).
    #[serde(default)]
    pub name: String,
    /// IČO: 8 digits with a valid check digit; empty when the company has none.
    #[serde(default)]
    pub ico: String,
    /// DIČ: `CZ` + 8–10 digits; empty when the company has none.
    #[serde(default)]
    pub dic: String,
}

impl CompanyInput {
    /// The input as stored: trimmed, DIČ upper case, spaces dropped from IČO and DIČ.
    pub fn normalized(&self) -> CompanySettings {
        CompanySettings {
            name: self.name.trim().to_owned(),
            ico: self.ico.trim().replace(' ', ""),
            dic: self.dic.trim().to_uppercase().replace(' ', ""),
        }
    }
}

/// What is wrong with `company` (normalized).
pub fn validate(company: &CompanySettings) -> Problems {
    let mut problems = Problems::default();
    if company.name.is_empty() {
        problems.add("name", "error-required");
    } else if company.name.chars().count() > 200 {
        problems.add("name", "error-too-long");
    }
    if !company.ico.is_empty() && !ico_is_valid(&company.ico) {
        let digits = company.ico.len() == 8 && company.ico.chars().all(|c| c.is_ascii_digit());
        problems.add(
            "ico",
            if digits {
                "company-ico-checksum"
            } else {
                "company-ico-format"
            },
        );
    }
    if !company.dic.is_empty() && !dic_is_valid(&company.dic) {
        problems.add("dic", "company-dic-format");
    }
    problems
}

/// Saves validated company data and audits the change.
pub async fn save(
    state: &AppState,
    by: &AdminSession,
    company: &CompanySettings,
) -> Result<(), SaveError> {
    validate(company).in_english().check()?;
    company.save(state.store.as_ref()).await?;
    Ok(by
        .audit(
            state.store.as_ref(),
            "company.update",
            "settings:company",
            "",
        )
        .await?)
}

/// The company data.
#[utoipa::path(
    get,
    path = "/api/admin/company",
    tag = "admin",
    responses(
        (status = 200, body = CompanySettings),
        AdminOnly
    )
)]
pub async fn get_settings(
    State(state): State<AppState>,
    RequireAdmin(_session): RequireAdmin,
) -> Result<AppJson<CompanySettings>, AppError> {
    Ok(AppJson(CompanySettings::load(state.store.as_ref()).await?))
}

/// Replaces the company data (validated like the Company page).
#[utoipa::path(
    put,
    path = "/api/admin/company",
    tag = "admin",
    request_body = CompanyInput,
    responses(
        (status = 200, body = CompanySettings),
        AdminOnly,
        Invalid
    )
)]
pub async fn put_settings(
    State(state): State<AppState>,
    RequireAdmin(session): RequireAdmin,
    AppJson(input): AppJson<CompanyInput>,
) -> Result<AppJson<CompanySettings>, AppError> {
    let company = input.normalized();
    save(&state, &session, &company).await?;
    Ok(AppJson(company))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ico_check_digits_are_verified() {
        // 2560780 weighted: 2*8+5*7+6*6+0*5+7*4+8*3+0*2 = 139; 139 % 11 = 7; 11 - 7 = 4.
        assert!(ico_is_valid("25607804"));
        assert!(!ico_is_valid("25607805"));
        assert!(!ico_is_valid("2560780"));
        assert!(!ico_is_valid("2560780a"));
        assert!(!ico_is_valid("256078041"));
    }

    #[test]
    fn ico_remainders_zero_and_one_give_check_digits_one_and_zero() {
        // Weighted sum 0 → remainder 0 → check digit 1.
        assert!(ico_is_valid("00000001"));
        assert!(!ico_is_valid("00000000"));
        // 4 × 3 = 12 → remainder 1 → check digit 0.
        assert!(ico_is_valid("00000400"));
        assert!(!ico_is_valid("00000401"));
    }

    #[test]
    fn dic_is_cz_and_eight_to_ten_digits() {
        assert!(dic_is_valid("CZ25607804"));
        assert!(dic_is_valid("CZ7001011234"));
        assert!(!dic_is_valid("CZ1234567"));
        assert!(!dic_is_valid("CZ12345678901"));
        assert!(!dic_is_valid("SK25607804"));
        assert!(!dic_is_valid("CZ2560780A"));
    }
}
