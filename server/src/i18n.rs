//! Localization of the admin UI with Project Fluent: the English and Czech catalogs
//! (`server/locales/{en,cs}.ftl`, compiled in), language negotiation (the employee's saved
//! preference, else `Accept-Language`, else English) and dates and numbers per language.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use fluent_bundle::{FluentArgs, FluentResource, FluentValue, concurrent::FluentBundle};
use unic_langid::{LanguageIdentifier, langid};

/// The English catalog source.
pub const EN_FTL: &str = include_str!("../locales/en.ftl");
/// The Czech catalog source.
pub const CS_FTL: &str = include_str!("../locales/cs.ftl");

/// A language the admin UI speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (the fallback).
    #[default]
    En,
    /// Czech.
    Cs,
}

impl Lang {
    /// Every supported language.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Cs];

    /// The BCP 47 tag (`en`, `cs`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Cs => "cs",
        }
    }

    /// The language's own name, for the language switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Cs => "Čeština",
        }
    }

    /// The language for a tag such as `cs`, `cs-CZ` or `en-GB`; `None` when unsupported.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "cs" => Some(Lang::Cs),
            _ => None,
        }
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::En => langid!("en"),
            Lang::Cs => langid!("cs"),
        }
    }
}

/// Picks the language: a supported saved preference wins, then the best supported entry of an
/// `Accept-Language` header (by q-value), then English.
pub fn negotiate(saved: Option<&str>, accept_language: Option<&str>) -> Lang {
    if let Some(lang) = saved.and_then(Lang::from_tag) {
        return lang;
    }
    let mut best: Option<(f32, Lang)> = None;
    for entry in accept_language.unwrap_or("").split(',').take(32) {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or("");
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if let Some(lang) = Lang::from_tag(tag)
            && q > 0.0
            && best.is_none_or(|(bq, _)| q > bq)
        {
            best = Some((q, lang));
        }
    }
    best.map(|(_, lang)| lang).unwrap_or_default()
}

struct Catalogs {
    en: FluentBundle<FluentResource>,
    cs: FluentBundle<FluentResource>,
}

fn bundle(lang: Lang, source: &str) -> FluentBundle<FluentResource> {
    let mut bundle = FluentBundle::new_concurrent(vec![lang.id()]);
    // Isolation marks would end up invisible in HTML attributes and break copy-paste.
    bundle.set_use_isolating(false);
    let resource = match FluentResource::try_new(source.to_owned()) {
        Ok(r) => r,
        Err((r, errors)) => {
            tracing::error!(lang = lang.tag(), ?errors, "syntax errors in a catalog");
            r
        }
    };
    if let Err(errors) = bundle.add_resource(resource) {
        tracing::error!(lang = lang.tag(), ?errors, "duplicate keys in a catalog");
    }
    bundle
}

// The catalogs are compiled-in constants, parsed once; nothing in them changes at run time.
static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| Catalogs {
    en: bundle(Lang::En, EN_FTL),
    cs: bundle(Lang::Cs, CS_FTL),
});

/// Translator for one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tr {
    /// The language.
    pub lang: Lang,
}

impl Tr {
    /// A translator for `lang`.
    pub fn new(lang: Lang) -> Self {
        Self { lang }
    }

    fn bundle(&self) -> &'static FluentBundle<FluentResource> {
        match self.lang {
            Lang::En => &CATALOGS.en,
            Lang::Cs => &CATALOGS.cs,
        }
    }

    /// The message `key` (the key itself when a catalog lacks it; a unit test prevents that).
    pub fn t(&self, key: &str) -> String {
        self.format(key, None)
    }

    /// The message `key` with arguments; numbers select Czech plural forms.
    pub fn ta(&self, key: &str, args: &[(&str, Arg)]) -> String {
        let mut fluent = FluentArgs::new();
        for (name, value) in args {
            let value = match value {
                Arg::Str(s) => FluentValue::from(s.clone()),
                Arg::Num(n) => FluentValue::from(*n),
            };
            fluent.set(*name, value);
        }
        self.format(key, Some(&fluent))
    }

    fn format(&self, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        let bundle = self.bundle();
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            tracing::warn!(key, lang = self.lang.tag(), "missing translation");
            return key.to_owned();
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(key, ?errors, "translation formatting errors");
        }
        text.into_owned()
    }

    /// A whole number with the language's digit grouping (`1,234` / `1 234`).
    pub fn number(&self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let sep = match self.lang {
            Lang::En => ",",
            Lang::Cs => "\u{a0}",
        };
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(sep);
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    }

    /// A moment (Unix ms) as the language writes it, in UTC.
    pub fn datetime_ms(&self, ms: i64) -> String {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .map(|t| self.datetime(t))
            .unwrap_or_default()
    }

    /// A moment as the language writes it, in UTC.
    pub fn datetime(&self, t: DateTime<Utc>) -> String {
        match self.lang {
            Lang::En => t.format("%-d %b %Y, %H:%M UTC").to_string(),
            Lang::Cs => t.format("%-d. %-m. %Y %H:%M UTC").to_string(),
        }
    }
}

/// A message argument.
#[derive(Debug, Clone)]
pub enum Arg {
    /// Text.
    Str(String),
    /// A number (selects plural forms).
    Num(f64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Str(s.to_owned())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Str(s)
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        // Counts shown in the UI are far below 2^53.
        Arg::Num(n as f64)
    }
}

/// The message ids of a catalog source, in order: lines `id = …` starting in column 0 (terms,
/// comments, attributes and continuation lines are not messages).
pub fn catalog_keys(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|line| {
            let (id, _) = line.split_once('=')?;
            let id = id.trim_end();
            let mut chars = id.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            valid.then(|| id.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys(source: &str) -> BTreeSet<String> {
        catalog_keys(source).into_iter().collect()
    }

    #[test]
    fn both_catalogs_parse_without_errors() {
        for (name, source) in [("en", EN_FTL), ("cs", CS_FTL)] {
            assert!(
                FluentResource::try_new(source.to_owned()).is_ok(),
                "{name}.ftl has syntax errors"
            );
        }
    }

    #[test]
    fn every_key_is_in_both_catalogs() {
        let (en, cs) = (keys(EN_FTL), keys(CS_FTL));
        let only_en: Vec<_> = en.difference(&cs).collect();
        let only_cs: Vec<_> = cs.difference(&en).collect();
        assert!(only_en.is_empty(), "missing in cs.ftl: {only_en:?}");
        assert!(only_cs.is_empty(), "missing in en.ftl: {only_cs:?}");
    }

    /// Keys written as `.t("key")` or `.ta("key"` in the UI sources.
    fn keys_used_in(source: &str) -> Vec<String> {
        let mut used = Vec::new();
        for marker in [".t(\"", ".ta(\"", "tkey!(\""] {
            let mut rest = source;
            while let Some(at) = rest.find(marker) {
                rest = &rest[at + marker.len()..];
                if let Some(end) = rest.find('"') {
                    used.push(rest[..end].to_owned());
                }
            }
        }
        used
    }

    #[test]
    fn every_key_the_pages_use_is_in_the_catalogs() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/admin/pages");
        let en = keys(EN_FTL);
        let mut used = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            for key in keys_used_in(&source) {
                used += 1;
                assert!(
                    en.contains(&key),
                    "{} uses unknown key {key}",
                    path.display()
                );
            }
        }
        assert!(
            used > 50,
            "the scan found only {used} keys; is the marker still right?"
        );
    }

    #[test]
    fn the_key_scanner_finds_keys_in_calls() {
        let found = keys_used_in(r#"tr.t("a-b") tr.ta("c", &[]) x.t(y) tkey!("d")"#);
        assert_eq!(found, ["a-b", "c", "d"]);
    }

    #[test]
    fn a_saved_preference_wins_over_the_browser() {
        assert_eq!(negotiate(Some("cs"), Some("en-US,en;q=0.9")), Lang::Cs);
        assert_eq!(negotiate(Some("de"), Some("cs-CZ")), Lang::Cs);
    }

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(negotiate(None, Some("de-DE,cs;q=0.8,en;q=0.5")), Lang::Cs);
        assert_eq!(negotiate(None, Some("en;q=0.9,cs;q=0.3")), Lang::En);
        assert_eq!(negotiate(None, Some("de, fr")), Lang::En);
        assert_eq!(negotiate(None, Some("cs;q=0")), Lang::En);
        assert_eq!(negotiate(None, None), Lang::En);
    }

    #[test]
    fn czech_plural_forms_follow_the_count() {
        let cs = Tr::new(Lang::Cs);
        let one = cs.ta("count-events", &[("count", 1.into())]);
        let few = cs.ta("count-events", &[("count", 3.into())]);
        let many = cs.ta("count-events", &[("count", 5.into())]);
        assert!(one.ends_with("událost"), "{one}");
        assert!(few.ends_with("události"), "{few}");
        assert!(many.ends_with("událostí"), "{many}");
        let en = Tr::new(Lang::En);
        assert_eq!(en.ta("count-events", &[("count", 1.into())]), "1 event");
        assert_eq!(en.ta("count-events", &[("count", 2.into())]), "2 events");
    }

    #[test]
    fn numbers_and_dates_follow_the_language() {
        let (en, cs) = (Tr::new(Lang::En), Tr::new(Lang::Cs));
        assert_eq!(en.number(1_234_567), "1,234,567");
        assert_eq!(cs.number(1_234_567), "1\u{a0}234\u{a0}567");
        assert_eq!(en.number(-12), "-12");
        let t = DateTime::<Utc>::from_timestamp(1_795_000_000, 0).unwrap();
        assert_eq!(en.datetime(t), t.format("%-d %b %Y, %H:%M UTC").to_string());
        assert!(cs.datetime(t).contains(". 11. 2026") || cs.datetime(t).contains(". 2026"));
    }

    #[test]
    fn a_missing_key_shows_the_key() {
        assert_eq!(
            Tr::new(Lang::Cs).t("no-such-key-anywhere"),
            "no-such-key-anywhere"
        );
    }
}
