//! Precompressed siblings and `Accept-Encoding` (RFC 9110 §12.5.3,
//! §8.4.1), sans-IO: which of `file.br`, `file.zst`, `file.gz` a client
//! takes, in the order to try them.

/// A content coding with a precompressed sibling file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// Brotli (RFC 7932), `file.br`.
    Br,
    /// Zstandard (RFC 8878), `file.zst`.
    Zstd,
    /// gzip (RFC 1952), `file.gz`.
    Gzip,
}

impl Coding {
    /// Every coding, in the server's order of preference for equal
    /// q-values: smallest files first.
    pub(crate) const ALL: [Self; 3] = [Self::Br, Self::Zstd, Self::Gzip];

    /// The sibling's suffix, appended to the file's name.
    #[must_use]
    pub(crate) fn suffix(self) -> &'static [u8] {
        match self {
            Self::Br => b".br",
            Self::Zstd => b".zst",
            Self::Gzip => b".gz",
        }
    }

    /// The `Content-Encoding` value (§8.4.1; the IANA registry's names).
    #[must_use]
    pub(crate) fn token(self) -> &'static str {
        match self {
            Self::Br => "br",
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The codings an `Accept-Encoding` field value accepts (q > 0), best
/// first: by q-value, then in [`Coding::ALL`]'s order. A coding not named
/// takes the q-value of `*` when there is one, else it is not acceptable;
/// `x-gzip` is `gzip` (§12.5.3). Names are case-insensitive; an element
/// with a malformed q-value is skipped.
#[must_use]
pub(crate) fn accepted(field: &str) -> Vec<Coding> {
    // q-values in thousandths; None: not named.
    let mut named: [Option<u16>; 3] = [None; 3];
    let mut star: Option<u16> = None;
    for element in field.split(',') {
        let mut parts = element.split(';');
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let mut q = Some(1000);
        for param in parts {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            if key.trim().eq_ignore_ascii_case("q") {
                q = qvalue(value.trim());
            }
        }
        let Some(q) = q else { continue };
        let slot = if name == "*" {
            &mut star
        } else if name.eq_ignore_ascii_case("br") {
            &mut named[Coding::Br.index()]
        } else if name.eq_ignore_ascii_case("zstd") {
            &mut named[Coding::Zstd.index()]
        } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            &mut named[Coding::Gzip.index()]
        } else {
            continue;
        };
        *slot = Some(q);
    }
    let mut out: Vec<(u16, Coding)> = Coding::ALL
        .into_iter()
        .filter_map(|c| {
            let q = named[c.index()].or(star)?;
            (q > 0).then_some((q, c))
        })
        .collect();
    // Stable: equal q-values keep the server's order.
    out.sort_by_key(|&(q, _)| std::cmp::Reverse(q));
    out.into_iter().map(|(_, c)| c).collect()
}

/// A qvalue (§12.4.2: `0[.ddd]` or `1[.000]`) in thousandths.
fn qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, d) in frac.bytes().enumerate() {
        thousandths += u16::from(d - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Coding::{Br, Gzip, Zstd};
    use super::*;

    #[test]
    fn negotiation() {
        let table: &[(&str, &[Coding])] = &[
            ("", &[]),
            ("identity", &[]),
            ("gzip", &[Gzip]),
            ("gzip, deflate, br, zstd", &[Br, Zstd, Gzip]),
            ("GZIP, BR", &[Br, Gzip]),
            ("x-gzip", &[Gzip]),
            ("gzip;q=1.0, br;q=0.5", &[Gzip, Br]),
            ("br;q=0, gzip", &[Gzip]),
            ("br; q=0.000, gzip", &[Gzip]),
            ("*", &[Br, Zstd, Gzip]),
            ("*;q=0.5, gzip", &[Gzip, Br, Zstd]),
            ("*;q=0, gzip", &[Gzip]),
            ("br;q=2, gzip", &[Gzip]),
            ("br;q=0.5555, gzip;q=0.1", &[Gzip]),
            ("zstd;q=0.9, br;q=0.9, gzip;q=0.95", &[Gzip, Br, Zstd]),
            (" , ,gzip ,", &[Gzip]),
            ("deflate, compress", &[]),
        ];
        for (field, want) in table {
            assert_eq!(accepted(field), *want, "{field:?}");
        }
    }

    #[test]
    fn qvalues() {
        for (s, want) in [
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("1.", Some(1000)),
            ("0", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.001", Some(1)),
            ("1.001", None),
            ("0.0001", None),
            ("2", None),
            ("", None),
            ("0.x", None),
        ] {
            assert_eq!(qvalue(s), want, "{s:?}");
        }
    }
}
