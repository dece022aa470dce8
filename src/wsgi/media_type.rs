//! `Content-Type` values (RFC 9110 §8.3.1): the media type a middleware
//! reads from a response head.

use super::is_token;

/// A parsed `Content-Type` value (RFC 9110 §8.3.1): `type/subtype` in lower
/// case, and its `charset` parameter if any (unquoted, lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// `type/subtype`, lower-cased, e.g. `text/plain`.
    pub essence: String,
    /// The `charset` parameter's value, lower-cased, without quotes.
    pub charset: Option<String>,
}

impl MediaType {
    /// Parses a `Content-Type` value; `None` when there is no `type/subtype`.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        let (t, s) = essence.split_once('/')?;
        if !is_token(t) || !is_token(s) {
            return None;
        }
        let charset = parts.find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
        });
        Some(Self { essence, charset })
    }

    /// `true` when the essence is exactly `essence` (given in lower case).
    #[must_use]
    pub fn is(&self, essence: &str) -> bool {
        self.essence == essence
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_parse() {
        let m = MediaType::parse("Text/Plain; Charset=\"UTF-8\"").unwrap();
        assert!(m.is("text/plain"));
        assert_eq!(m.charset.as_deref(), Some("utf-8"));
        assert_eq!(MediaType::parse("text/plain").unwrap().charset, None);
        assert!(!MediaType::parse("text/plainx").unwrap().is("text/plain"));
        assert!(MediaType::parse("garbage").is_none());
        assert!(MediaType::parse("").is_none());
    }
}
