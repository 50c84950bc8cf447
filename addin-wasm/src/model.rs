//! The server's JSON shapes the pane reads and writes, from the wire crate shared with the
//! server (one definition of each), under the short names the pane's modules use.

pub use crm_bridge_wire::{
    ActivityKind, Attachment, EmailInput, Entry, EntryStatus, ItemKind as Kind, ItemView as Item,
    Links, LookupAnswer, Mailbox, MeetingInput, PersonInput, Pick, Relink, SuggestRequest,
    Suggestions, json,
};
