//! The Microsoft Graph connector: the only code that knows Graph's wire format, as `crm/` is for
//! the CRM's. It obtains app-only tokens by client credentials (`token`), turns a planned calendar
//! event into Graph's JSON (`event`), and writes events into mailboxes (`client`): create with a
//! `transactionId` and our CRM id as an extended property, update, delete, cancel, get, and a
//! search by the CRM id, delta rounds of a mailbox's calendar view (`delta`) and change-notification subscriptions; `Prefer: IdType="ImmutableId"` on every call, at most four concurrent
//! requests per mailbox, 429/503 answered after their `Retry-After`.

mod client;
mod error;
mod event;
mod token;

pub use client::{
    DeltaChange, DeltaFrom, DeltaRound, GraphClient, GraphConnection, GraphEvent, GraphLimits,
    NewSubscription,
};
pub use error::GraphError;
pub use event::{Attendee, EventDraft, graph_time, parse_graph_time};
pub use token::TokenSource;

/// Namespace GUID of our extended property (fixed: changing it would orphan every synced event).
pub const PROPERTY_SET: &str = "b9f3d7a2-52c4-4e7b-9c1d-6a0e8f4b2c31";
/// Name of the extended property that holds our CRM id.
pub const PROPERTY_NAME: &str = "CrmBridgeId";

/// The full id of the extended property that holds our CRM id.
pub fn crm_property_id() -> String {
    format!("String {{{PROPERTY_SET}}} Name {PROPERTY_NAME}")
}
