//! Which cached records an employee may see: the CRM security levels of the employee's own CRM
//! account, asked of the CRM with the employee's key and stored on the employee row. Refreshed
//! when the employee's CRM account or key changes and on every reconcile.

use super::ItemsCtx;
use crate::{jobs::WorkError, store::Employee};

/// Asks the CRM which security levels `employee` may open and stores them; an employee without
/// a CRM key is not limited (`None`). Returns the stored levels.
pub async fn refresh_levels(
    state: &ItemsCtx,
    employee: &Employee,
) -> Result<Option<Vec<i64>>, WorkError> {
    let levels = if employee.crm_api_key_enc.is_none() {
        None
    } else {
        let crm = state
            .crm
            .for_employee(state.store.as_ref(), &state.master_key, employee)
            .await?;
        crm.test_connection().await?.identity.security_levels
    };
    state
        .store
        .set_crm_security_levels(&employee.id, levels.as_deref())
        .await?;
    Ok(levels)
}

/// Refreshes the levels of every active employee with a CRM key; one failure is logged and
/// leaves that employee's stored levels as they were.
pub async fn refresh_all_levels(state: &ItemsCtx) -> Result<(), WorkError> {
    for employee in state.store.list_employees().await? {
        if !employee.active || employee.crm_api_key_enc.is_none() {
            continue;
        }
        if let Err(e) = refresh_levels(state, &employee).await {
            tracing::warn!(employee = %employee.id, error = %e, "refreshing CRM security levels failed");
        }
    }
    Ok(())
}
