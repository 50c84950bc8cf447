//! The Microsoft Graph connector against the Microsoft 365 simulator (entra-sim's Graph part):
//! contract tests for every operation, fault and error; and the spec conformance check of every
//! answer the simulator gave.

mod conformance;
mod connector;
mod subscriptions;

use std::time::Duration;

use server::graph::{Attendee, EventDraft, GraphClient, GraphLimits};
use tests::{
    calendar_rig::{graph_connector, start_graph_sim},
    entra_sim::EntraSim,
};

/// A simulator with mailboxes `anna@firm.cz`, `boris@firm.cz` and `cyril@firm.cz`.
pub(crate) async fn start_sim() -> EntraSim {
    start_graph_sim(&[
        ("anna@firm.cz", "Anna Nováková"),
        ("boris@firm.cz", "Boris Dvořák"),
        ("cyril@firm.cz", "Cyril Král"),
    ])
    .await
}

/// Limits that keep fault tests short.
pub(crate) fn quick_limits() -> GraphLimits {
    GraphLimits {
        per_mailbox: 4,
        max_retries: 6,
        max_wait: Duration::from_secs(2),
    }
}

/// A connector for the simulator with `secret`.
pub(crate) fn connector_with(sim: &EntraSim, secret: &str, limits: GraphLimits) -> GraphClient {
    graph_connector(sim, secret, limits)
}

/// A connector with the right secret.
pub(crate) fn connector(sim: &EntraSim) -> GraphClient {
    connector_with(sim, &sim.client_secret(), quick_limits())
}

/// A wall-clock time in Prague.
pub(crate) fn prague(text: &str) -> jiff::Timestamp {
    let civil: jiff::civil::DateTime = text.parse().unwrap();
    civil
        .to_zoned(jiff::tz::TimeZone::get("Europe/Prague").unwrap())
        .unwrap()
        .timestamp()
}

/// A one-hour event on 1 September 2026 at `hour` Prague time, with `attendees`.
pub(crate) fn draft(subject: &str, hour: u8, attendees: &[&str]) -> EventDraft {
    EventDraft {
        subject: subject.into(),
        body_html: "<p>Agenda</p>".into(),
        start: prague(&format!("2026-09-01T{hour:02}:00")),
        end: prague(&format!("2026-09-01T{:02}:00", hour + 1)),
        location: Some("Kavárna".into()),
        attendees: attendees
            .iter()
            .map(|a| Attendee {
                address: (*a).into(),
                name: (*a).into(),
            })
            .collect(),
        categories: vec!["Raynet".into()],
    }
}
