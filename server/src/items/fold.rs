//! Text folding for search: lower case, no diacritics, words separated by single spaces.
//! "Vítkovice, a.s." folds to "vitkovice a s", so "vitk" finds it. One function serves the
//! index, the queries and the e-mail matching, so they always agree.

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// Folds `text` into lower-case ASCII-ish words joined by single spaces.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let mut push = |c: char, out: &mut String| {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    };
    if text.is_ascii() {
        for c in text.chars() {
            push(c, &mut out);
        }
    } else {
        for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
            push(fold_special(c), &mut out);
        }
    }
    out
}

/// Letters that do not decompose into a base letter and a combining mark.
fn fold_special(c: char) -> char {
    match c {
        'ł' | 'Ł' => 'l',
        'ø' | 'Ø' => 'o',
        'đ' | 'Đ' => 'd',
        'ß' => 's',
        'æ' | 'Æ' => 'a',
        'ı' => 'i',
        other => other,
    }
}

/// The words of an already folded text.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(' ').filter(|w| !w.is_empty())
}

/// The domain of an e-mail address, lower case.
pub fn email_domain(email: &str) -> Option<&str> {
    email
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| d.contains('.'))
}

/// Normalises an e-mail address for matching: trimmed, lower case, without `mailto:`.
pub fn normalize_email(email: &str) -> String {
    let e = email
        .trim()
        .trim_start_matches("mailto:")
        .trim_matches(|c| c == '<' || c == '>');
    e.to_lowercase()
}

/// Domains of free mail providers: a shared domain says nothing about the company.
pub fn is_free_mail_domain(domain: &str) -> bool {
    const FREE: &[&str] = &[
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "proton.me",
        "protonmail.com",
        "seznam.cz",
        "email.cz",
        "post.cz",
        "centrum.cz",
        "atlas.cz",
        "volny.cz",
        "tiscali.cz",
        "azet.sk",
        "zoznam.sk",
        "centrum.sk",
        "pobox.sk",
        "wp.pl",
        "o2.pl",
        "onet.pl",
        "interia.pl",
        "web.de",
        "t-online.de",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "zoho.com",
    ];
    FREE.contains(&domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diacritics_case_and_punctuation_fold_away() {
        assert_eq!(fold("Vítkovice, a.s."), "vitkovice a s");
        assert_eq!(fold("  ŽLUŤOUČKÝ  kůň "), "zlutoucky kun");
        assert_eq!(fold("Łódź Øresund straße"), "lodz oresund strase");
        assert_eq!(fold("Novák & syn s.r.o."), "novak syn s r o");
        assert_eq!(fold("ABC-123"), "abc 123");
        assert_eq!(fold("!!!"), "");
    }

    #[test]
    fn words_split_folded_text() {
        assert_eq!(
            words("jiri novak").collect::<Vec<_>>(),
            vec!["jiri", "novak"]
        );
    }

    #[test]
    fn email_helpers_normalise_and_find_domains() {
        assert_eq!(
            normalize_email(" <Jana.Novak@Firma.CZ> "),
            "jana.novak@firma.cz"
        );
        assert_eq!(email_domain("jana@firma.cz"), Some("firma.cz"));
        assert_eq!(email_domain("nonsense"), None);
        assert!(is_free_mail_domain("seznam.cz"));
        assert!(!is_free_mail_domain("vitkovice.cz"));
    }
}
