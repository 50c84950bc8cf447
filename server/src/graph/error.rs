//! What can go wrong talking to Microsoft: typed so that the sync engine and the admin test can
//! tell the cases apart.

use std::time::Duration;

/// A failed Graph or token call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// The token endpoint refused the client id or secret (`invalid_client`).
    #[error("Microsoft refused the client id or secret: {0}")]
    BadCredentials(String),
    /// The tenant is unknown to the token endpoint.
    #[error("Microsoft does not know the tenant: {0}")]
    BadTenant(String),
    /// No admin consent: the token lacks `Calendars.ReadWrite`, or Graph answered 403.
    #[error("the app has no admin consent for Calendars.ReadWrite in this mailbox: {0}")]
    NoConsent(String),
    /// The mailbox does not exist (or has no Exchange Online mailbox).
    #[error("mailbox {0} was not found")]
    MailboxNotFound(String),
    /// The event is gone (deleted in Outlook, or never existed).
    #[error("the event is gone")]
    Gone,
    /// The delta token is no longer known (410 Gone, `SyncStateNotFound`): start a full resync.
    #[error("Microsoft Graph no longer knows the delta token; a full resync is needed")]
    ResyncRequired,
    /// Still throttled (429) after the allowed retries.
    #[error("Microsoft Graph is throttling this mailbox; retry after {0:?}")]
    Throttled(Duration),
    /// Graph is unavailable (503/504, other 5xx, network error) after the allowed retries.
    #[error("Microsoft Graph is unavailable: {0}")]
    Unavailable(String),
    /// Graph rejected the request (4xx other than the above).
    #[error("Microsoft Graph rejected the request ({status} {code}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// OData error code.
        code: String,
        /// OData error message.
        message: String,
    },
}

impl GraphError {
    /// Whether retrying later may succeed (throttling, outages).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Throttled(_) | Self::Unavailable(_))
    }

    /// A short stable code for traces and the admin API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadCredentials(_) => "bad_credentials",
            Self::BadTenant(_) => "bad_tenant",
            Self::NoConsent(_) => "no_consent",
            Self::MailboxNotFound(_) => "mailbox_not_found",
            Self::Gone => "gone",
            Self::ResyncRequired => "resync_required",
            Self::Throttled(_) => "throttled",
            Self::Unavailable(_) => "unavailable",
            Self::Rejected { .. } => "rejected",
        }
    }
}
