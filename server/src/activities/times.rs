//! Meeting times from Outlook: RFC 3339 instants, or wall-clock times in an IANA or Windows time
//! zone resolved with the zone's rules on that date (so DST is right on both sides of a change).

use chrono::{DateTime, NaiveDateTime, Utc};

/// The Windows zone names Outlook commonly sends, with the IANA zone used for each (the CLDR
/// "territory 001" choice, except Central Europe, which a Czech CRM means as Prague).
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("Central Europe Standard Time", "Europe/Prague"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kyiv"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("India Standard Time", "Asia/Kolkata"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
];

/// The zone named `name` (IANA, or a Windows name Outlook uses); `None` if unknown.
pub fn zone(name: &str) -> Option<jiff::tz::TimeZone> {
    let name = name.trim();
    let iana = WINDOWS_ZONES
        .iter()
        .find(|(windows, _)| windows.eq_ignore_ascii_case(name))
        .map_or(name, |(_, iana)| iana);
    jiff::tz::TimeZone::get(iana).ok()
}

/// Parses `text` as an instant: RFC 3339 with an offset as it is, or a wall-clock time
/// (`2026-03-29T10:00[:00]`) in `zone`. Times that a DST change skips move forward; repeated
/// times take the earlier instant.
pub fn instant(text: &str, zone: Option<&jiff::tz::TimeZone>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .map_err(|_| format!("{text:?} is not an RFC 3339 date and time"))?;
    let zone = zone.ok_or_else(|| {
        format!("{text:?} has no UTC offset; send one or name the time zone in time_zone")
    })?;
    let civil: jiff::civil::DateTime = naive
        .format("%Y-%m-%dT%H:%M:%S%.f")
        .to_string()
        .parse()
        .map_err(|e| format!("{text:?}: {e}"))?;
    let zoned = civil
        .to_zoned(zone.clone())
        .map_err(|e| format!("{text:?}: {e}"))?;
    DateTime::from_timestamp_millis(zoned.timestamp().as_millisecond())
        .ok_or_else(|| format!("{text:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, zone_name: &str) -> String {
        instant(text, zone(zone_name).as_ref())
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|e| e)
    }

    #[test]
    fn prague_wall_clock_times_use_winter_and_summer_offsets() {
        assert_eq!(
            at("2026-03-28T10:00", "Europe/Prague"),
            "2026-03-28T09:00:00+00:00"
        );
        assert_eq!(
            at("2026-03-30T10:00", "Europe/Prague"),
            "2026-03-30T08:00:00+00:00"
        );
    }

    #[test]
    fn windows_zone_names_resolve_like_their_iana_zone() {
        assert_eq!(
            at("2026-07-01T09:30:00", "Central Europe Standard Time"),
            at("2026-07-01T09:30:00", "Europe/Prague")
        );
        assert_eq!(
            at("2026-01-15T09:00", "Pacific Standard Time"),
            "2026-01-15T17:00:00+00:00"
        );
    }

    #[test]
    fn a_time_skipped_by_the_spring_change_moves_forward() {
        assert_eq!(
            at("2026-03-29T02:30", "Europe/Prague"),
            "2026-03-29T01:30:00+00:00"
        );
    }

    #[test]
    fn an_explicit_offset_wins_over_the_zone() {
        assert_eq!(
            at("2026-03-29T10:00:00+02:00", "UTC"),
            "2026-03-29T08:00:00+00:00"
        );
    }

    #[test]
    fn unknown_zones_and_missing_offsets_are_reported() {
        assert!(zone("Mars/Olympus").is_none());
        assert!(instant("2026-03-29T10:00", None).is_err());
        assert!(instant("tomorrow", zone("UTC").as_ref()).is_err());
    }
}
