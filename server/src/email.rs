//! E-mail addresses, parsed once where they enter ("parse, don't validate"): an
//! [`EmailAddress`] is `local@domain.tld` without spaces, at most 254 characters, trimmed.
//! Every form, API and command that takes an address checks it with [`EmailAddress::parse`].

use std::fmt;

/// A plausible e-mail address (the check is deliberately loose: the mail system has the last
/// word).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// Why a text is not an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an e-mail address")]
pub struct NotAnEmail(pub String);

impl EmailAddress {
    /// Longest address accepted (RFC 5321's path limit).
    pub const MAX_LEN: usize = 254;

    /// `text` (trimmed) as an address, if it looks like one.
    pub fn parse(text: &str) -> Result<Self, NotAnEmail> {
        let s = text.trim();
        let plausible = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !s.contains(char::is_whitespace)
                    && s.len() <= Self::MAX_LEN
            }
            None => false,
        };
        if plausible {
            Ok(Self(s.to_owned()))
        } else {
            Err(NotAnEmail(s.to_owned()))
        }
    }

    /// Whether `text` parses as an address.
    pub fn is_valid(text: &str) -> bool {
        Self::parse(text).is_ok()
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_trimmed_and_needs_a_local_part_and_a_dotted_domain() {
        assert_eq!(
            EmailAddress::parse("  jana@firma.cz ").unwrap().as_str(),
            "jana@firma.cz"
        );
        for bad in [
            "",
            "jana",
            "@firma.cz",
            "jana@firma",
            "jana@.cz",
            "jana@firma.",
            "ja na@firma.cz",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
        let long = format!("{}@firma.cz", "a".repeat(250));
        assert!(!EmailAddress::is_valid(&long));
    }
}
