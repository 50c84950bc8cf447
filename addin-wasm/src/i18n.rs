//! The pane's strings: English and Czech message catalogs (`locales/*.ftl`, a plain subset of
//! Fluent: `key = text` with `{ $name }` variables) compiled in, and the language choice from
//! Office's display language. A full Fluent runtime would cost more than the rest of the pane.

const EN: &str = include_str!("../locales/en.ftl");
const CS: &str = include_str!("../locales/cs.ftl");

/// A pane language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English, the fallback.
    En,
    /// Czech.
    Cs,
}

impl Lang {
    /// The language for Office's `displayLanguage` (e.g. `cs-CZ`); English unless Czech.
    pub fn from_display_language(tag: &str) -> Self {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("cs") {
            Lang::Cs
        } else {
            Lang::En
        }
    }
}

// A list searched in order: some 50 keys, and no hash tables in the wasm.
type Messages = Vec<(&'static str, &'static str)>;

fn parse(source: &'static str) -> Messages {
    source
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// The strings of one language, falling back to English, then to the key itself.
#[derive(Debug, Clone)]
pub struct Catalog {
    lang: Lang,
    own: Messages,
    fallback: Messages,
}

impl Catalog {
    /// The catalog for `lang`.
    pub fn new(lang: Lang) -> Self {
        let own = match lang {
            Lang::En => EN,
            Lang::Cs => CS,
        };
        Self {
            lang,
            own: parse(own),
            fallback: parse(EN),
        }
    }

    /// Its language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The text for `key`.
    pub fn t(&self, key: &str) -> String {
        self.t_with(key, &[])
    }

    /// The text for `key` with `{ $name }` replaced by the given values.
    pub fn t_with(&self, key: &str, args: &[(&str, &str)]) -> String {
        let find = |list: &Messages| list.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let text = find(&self.own)
            .or_else(|| find(&self.fallback))
            .unwrap_or(key);
        args.iter().fold(text.to_owned(), |acc, (name, value)| {
            acc.replace(&["{ $", name, " }"].concat(), value)
        })
    }

    #[cfg(test)]
    fn keys(&self) -> std::collections::BTreeSet<&'static str> {
        self.own.iter().map(|(k, _)| *k).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn czech_and_english_catalogs_define_the_same_keys() {
        let en = Catalog::new(Lang::En).keys();
        let cs = Catalog::new(Lang::Cs).keys();
        assert!(en.len() > 20);
        assert_eq!(en, cs);
    }

    #[test]
    fn czech_display_languages_pick_czech_and_anything_else_english() {
        assert_eq!(Lang::from_display_language("cs-CZ"), Lang::Cs);
        assert_eq!(Lang::from_display_language("CS"), Lang::Cs);
        assert_eq!(Lang::from_display_language("en-US"), Lang::En);
        assert_eq!(Lang::from_display_language("de-DE"), Lang::En);
        assert_eq!(Lang::from_display_language(""), Lang::En);
    }

    #[test]
    fn variables_are_substituted_and_unknown_keys_show_the_key() {
        let cs = Catalog::new(Lang::Cs);
        assert_eq!(
            cs.t_with("contact-added", &[("name", "Jan Novák")]),
            "Jan Novák byl(a) přidán(a) do CRM."
        );
        assert_eq!(cs.t("firm"), "Firma");
        assert_eq!(Catalog::new(Lang::En).t("no-such-key"), "no-such-key");
    }
}
