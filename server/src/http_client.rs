//! The one outbound HTTP client builder: every call the server makes to another service (the CRM,
//! Microsoft) goes through a `reqwest::Client` made here, with a timeout and our user agent.

use std::time::Duration;

/// The `User-Agent` every outbound request carries.
pub const USER_AGENT: &str = concat!("crm-bridge/", env!("CARGO_PKG_VERSION"));

/// A client with a whole-request `timeout`, a connect timeout, our user agent, no cookie store
/// and at most a few redirects.
pub fn build(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::limited(3))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
}

/// The client for CRM calls, with the timeout from `[crm]`.
pub fn for_crm(config: &crate::config::CrmConfig) -> reqwest::Result<reqwest::Client> {
    build(Duration::from_secs(config.request_timeout_secs.max(1)))
}
