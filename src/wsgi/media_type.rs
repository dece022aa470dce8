//! `Content-Type` values (RFC 9110 §8.3.1): the media type a middleware
//! reads from a response head.

use super::is_token;

/// A parsed `Content-Type` value (RFC 9110 §8.3.1), borrowed from it:
/// `type/subtype` and its `charset` parameter if any (without quotes), both
/// as written. Type, subtype and charset names are case-insensitive
/// (RFC 9110 §8.3.1, §8.3.2): compare them with [`MediaType::is`] and
/// `eq_ignore_ascii_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MediaType<'a> {
    /// `type/subtype` as written, e.g. `Text/Plain`.
    pub(crate) essence: &'a str,
    /// The `charset` parameter's value as written, without quotes.
    pub(crate) charset: Option<&'a str>,
}

impl<'a> MediaType<'a> {
    /// Parses a `Content-Type` value; `None` when there is no `type/subtype`.
    #[must_use]
    pub(crate) fn parse(value: &'a str) -> Option<Self> {
        // Byte scans: values are short, and `;`, `/`, `=` are ASCII.
        let split = |s: &'a str, sep: u8| {
            let at = s.bytes().position(|b| b == sep)?;
            Some((&s[..at], &s[at + 1..]))
        };
        let (essence, mut params) = split(value, b';').unwrap_or((value, ""));
        let essence = essence.trim();
        let (t, s) = split(essence, b'/')?;
        if !is_token(t) || !is_token(s) {
            return None;
        }
        let mut charset = None;
        while !params.is_empty() && charset.is_none() {
            let (param, rest) = split(params, b';').unwrap_or((params, ""));
            params = rest;
            if let Some((k, v)) = split(param, b'=') {
                if k.trim().eq_ignore_ascii_case("charset") {
                    charset = Some(v.trim().trim_matches('"'));
                }
            }
        }
        Some(Self { essence, charset })
    }

    /// `true` when the essence is `essence`, compared case-insensitively.
    #[must_use]
    pub(crate) fn is(&self, essence: &str) -> bool {
        self.essence.eq_ignore_ascii_case(essence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_parse() {
        let m = MediaType::parse("Text/Plain; Charset=\"UTF-8\"").unwrap();
        assert!(m.is("text/plain"));
        assert_eq!(m.charset, Some("UTF-8"));
        assert_eq!(MediaType::parse("text/plain").unwrap().charset, None);
        assert!(!MediaType::parse("text/plainx").unwrap().is("text/plain"));
        assert!(MediaType::parse("garbage").is_none());
        assert!(MediaType::parse("").is_none());
    }
}
