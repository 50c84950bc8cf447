//! The calendar-sync settings (setting `calendar`): on/off, the synced activity types, the
//! category stamped on events and the sync start date. The participant mode is the existing
//! `sync` setting.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ActivityKind;
use crate::settings::Setting;

/// Stored calendar-sync settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(default)]
pub struct CalendarSettings {
    /// Sync on.
    pub enabled: bool,
    /// Synced activity types (`meeting`, `event`, `task`, `phoneCall`, `letter`).
    #[schema(value_type = Vec<String>)]
    pub activity_types: BTreeSet<ActivityKind>,
    /// Category on synced events.
    pub category: String,
    /// Activities starting before this date (`YYYY-MM-DD`, company time zone) are not synced.
    pub start_date: Option<String>,
}

impl Default for CalendarSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            activity_types: ActivityKind::ALL.into_iter().collect(),
            category: "Raynet".into(),
            start_date: None,
        }
    }
}

impl Setting for CalendarSettings {
    const KEY: &'static str = "calendar";
}

/// The time zone the company's dates are meant in.
pub const COMPANY_ZONE: &str = "Europe/Prague";

/// Midnight of `date` (`YYYY-MM-DD`) in the company's zone; `None` when unreadable.
pub fn start_of_day(date: &str) -> Option<jiff::Timestamp> {
    let date: jiff::civil::Date = date.trim().parse().ok()?;
    let zone = jiff::tz::TimeZone::get(COMPANY_ZONE).ok()?;
    date.to_zoned(zone).ok().map(|z| z.timestamp())
}

impl CalendarSettings {
    /// The start date as an instant (midnight in the company's zone); `None` when unset or
    /// unreadable.
    pub fn start_instant(&self) -> Option<jiff::Timestamp> {
        start_of_day(self.start_date.as_deref()?)
    }

    /// Checks the values; the problem in words.
    pub fn validate(&self) -> Result<(), String> {
        let category = self.category.trim();
        if category.is_empty() || category.chars().count() > 255 {
            return Err("category must have 1 to 255 characters".into());
        }
        if let Some(d) = &self.start_date
            && d.trim().parse::<jiff::civil::Date>().is_err()
        {
            return Err("start_date must be a date YYYY-MM-DD".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_date_is_midnight_in_prague() {
        let s = CalendarSettings {
            start_date: Some("2026-07-01".into()),
            ..CalendarSettings::default()
        };
        assert_eq!(
            s.start_instant().map(|t| t.to_string()),
            Some("2026-06-30T22:00:00Z".into())
        );
        assert!(s.validate().is_ok());
        let bad = CalendarSettings {
            start_date: Some("1.7.2026".into()),
            ..CalendarSettings::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn by_default_every_type_is_synced_under_the_raynet_category_and_sync_is_off() {
        let s: CalendarSettings = serde_json::from_str("{}").unwrap();
        assert!(!s.enabled);
        assert_eq!(s.activity_types.len(), 5);
        assert_eq!(s.category, "Raynet");
    }
}
