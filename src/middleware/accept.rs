//! Proactive negotiation on the `Accept` request header (RFC 9110 §12.5.1),
//! for `handle_error(debug=True)`: HTML for a client that prefers it, text
//! for everyone else.
//!
//! Each offered type gets the weight of the most specific media range that
//! matches it (`text/html` over `text/*` over `*/*`; a range with media-type
//! parameters over the same range without), or 0 when none matches. A
//! malformed element of the list is ignored, as a `q` weight outside the
//! grammar is; ranges of equal specificity keep the first one listed.

/// Weights in thousandths (RFC 9110 §12.4.2: at most three decimals).
type Weight = u16;

/// The full weight, `q=1`.
const FULL: Weight = 1000;

/// `true` when `accept` (the `Accept` field value; `None` when the request
/// has none) gives `text/html` a higher weight than `text/plain`, each
/// offered with `charset=utf-8`. No header, `*/*`, `text/*` and an empty
/// value all tie, so the answer stays text.
#[must_use]
pub fn prefers_html(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| weight(a, "text", "html") > weight(a, "text", "plain"))
}

/// The weight `accept` gives to `type/subtype; charset=utf-8`.
fn weight(accept: &str, ty: &str, subtype: &str) -> Weight {
    let mut best: Option<(u8, Weight)> = None;
    for element in split_outside_quotes(accept, ',') {
        let Some(range) = MediaRange::parse(element) else {
            continue;
        };
        if let Some(rank) = range.rank(ty, subtype) {
            if best.is_none_or(|(r, _)| rank > r) {
                best = Some((rank, range.weight));
            }
        }
    }
    best.map_or(0, |(_, w)| w)
}

/// One element of the `Accept` list.
#[derive(Debug, PartialEq, Eq)]
struct MediaRange<'a> {
    ty: &'a str,
    subtype: &'a str,
    /// Media-type parameters (those before `q`), names and values as sent.
    params: Vec<(&'a str, &'a str)>,
    weight: Weight,
}

impl<'a> MediaRange<'a> {
    /// `media-range [ weight ]`; `None` when the element is empty or does
    /// not follow the grammar.
    fn parse(element: &'a str) -> Option<Self> {
        let mut parts = split_outside_quotes(element, ';');
        let (ty, subtype) = parts.next()?.trim().split_once('/')?;
        let (ty, subtype) = (ty.trim(), subtype.trim());
        if !is_token(ty) || !is_token(subtype) || (ty == "*" && subtype != "*") {
            return None;
        }
        let mut params = Vec::new();
        let mut weight = FULL;
        for p in parts {
            let Some((name, value)) = p.split_once('=') else {
                if p.trim().is_empty() {
                    continue; // `parameters` allows empty elements
                }
                return None;
            };
            let name = name.trim();
            if name.eq_ignore_ascii_case("q") {
                weight = qvalue(value.trim())?;
                break; // what follows the weight is accept-ext (RFC 7231)
            }
            params.push((name, value.trim()));
        }
        Some(Self {
            ty,
            subtype,
            params,
            weight,
        })
    }

    /// How specifically this range matches `ty/subtype; charset=utf-8`
    /// (higher is more specific), or `None` when it does not match.
    fn rank(&self, ty: &str, subtype: &str) -> Option<u8> {
        let type_ok = self.ty == "*" || self.ty.eq_ignore_ascii_case(ty);
        let sub_ok = self.subtype == "*" || self.subtype.eq_ignore_ascii_case(subtype);
        // The offer's only parameter is charset=utf-8; a range asking for
        // anything else does not match it.
        let params_ok = self.params.iter().all(|(name, value)| {
            name.eq_ignore_ascii_case("charset")
                && value.trim_matches('"').eq_ignore_ascii_case("utf-8")
        });
        if !(type_ok && sub_ok && params_ok) {
            return None;
        }
        let specific = u8::from(self.ty != "*") + u8::from(self.subtype != "*");
        let params = u8::try_from(self.params.len()).unwrap_or(u8::MAX);
        Some(specific.saturating_mul(64).saturating_add(params.min(63)))
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in
/// thousandths; `None` outside that grammar.
fn qvalue(text: &str) -> Option<Weight> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: Weight = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += Weight::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(FULL),
        _ => None,
    }
}

/// `token` (RFC 9110 §5.6.2).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Splits `text` at each `sep` that is not inside a quoted string (RFC 9110
/// §5.6.4, with `\` escapes).
fn split_outside_quotes(text: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    text.split(move |c: char| {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            return true;
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_gets_html() {
        let cases: &[(Option<&str>, bool)] = &[
            // Chromium and Firefox navigations.
            (
                Some("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
                true,
            ),
            (
                Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                true,
            ),
            (Some("text/html"), true),
            (Some("TEXT/HTML;Q=1"), true),
            (Some("text/*, text/plain;q=0.5"), true),
            (Some("text/html;charset=UTF-8"), true),
            (Some("text/html;charset=\"utf-8\", */*;q=0.1"), true),
            // curl, test clients, no header: text.
            (None, false),
            (Some("*/*"), false),
            (Some(""), false),
            (Some("text/*"), false),
            (Some("application/json"), false),
            (Some("text/plain, text/html"), false),
            (Some("text/plain, text/html;q=0.9"), false),
            (Some("text/html;q=0"), false),
            (Some("text/html;level=1, text/plain;q=0.1"), false),
            (Some("text/html;charset=latin-1, */*;q=0.2"), false),
            // Specificity: text/html's own weight wins over */*.
            (Some("text/html;q=0.1, */*;q=0.9"), false),
            (Some("*/*;q=0.1, text/html;q=0.2"), true),
            (Some("text/html, text/plain;q=0.5, */*"), true),
            // Malformed weights and ranges are ignored.
            (Some("text/html;q=2"), false),
            (Some("text/html;q=0.0001"), false),
            (Some("text/html;q=abc, text/plain;q=0.5"), false),
            (Some("html"), false),
            (Some("*/html"), false),
            (Some(",,text/html ,"), true),
            (Some("text/html;;q=1"), true),
            (Some("text/html;x=\"a,b;c\";q=0.3, text/plain;q=0.2, text/html;q=0.9"), true),
            // A comma inside a quoted parameter value does not end the element.
            (Some("text/plain;foo=\"a, text/html, b\""), false),
        ];
        for &(accept, html) in cases {
            assert_eq!(prefers_html(accept), html, "{accept:?}");
        }
    }

    #[test]
    fn weights() {
        assert_eq!(weight("text/html;q=0.5", "text", "html"), 500);
        assert_eq!(weight("text/*;q=0.25", "text", "html"), 250);
        assert_eq!(weight("*/*;q=1.000", "text", "html"), 1000);
        assert_eq!(weight("image/png", "text", "html"), 0);
        assert_eq!(weight("text/html;q=0.3;ext=1", "text", "html"), 300);
        assert_eq!(qvalue("0."), Some(0));
        assert_eq!(qvalue("1.001"), None);
        assert_eq!(qvalue(".5"), None);
    }
}
