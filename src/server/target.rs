//! [Stage 2](super): The request-target and the authority syntax (RFC 9112
//! §3.2, RFC 3986 §3.2.2), sans-IO: which forms a method allows, the
//! authority of an absolute-form target, a valid `Host`, and the path and
//! query the environ gets.

use std::borrow::Cow;

use percent_encoding::percent_decode;

use super::error::RequestError;

/// Refuses a request-target that is not ASCII, or in none of the forms RFC
/// 9112 §3.2 allows for `method`: origin-form (`/path?query`) or absolute-form
/// (`scheme://authority/path?query`, §3.2.2) for any method but CONNECT,
/// authority-form (`host:port`, §3.2.3) for CONNECT and only CONNECT, and
/// asterisk-form (`*`, §3.2.4) for OPTIONS only.
///
/// # Errors
/// [`RequestError::MalformedRequest`] (400) saying which rule failed.
pub fn check_target(method: &str, target: &[u8]) -> Result<(), RequestError> {
    // A URI is ASCII (RFC 3986 §2: other bytes are percent-encoded); httparse
    // lets UTF-8 through. RFC 9112 §3: an invalid request-line SHOULD get a
    // 400, as gunicorn and waitress answer.
    if !target.is_ascii() {
        return Err(RequestError::MalformedRequest(
            "request-target is not ASCII",
        ));
    }
    let ok = match (method, target) {
        ("CONNECT", t) => is_authority_form(t),
        ("OPTIONS", b"*") | (_, [b'/', ..]) => true,
        (_, t) => is_absolute_form(t),
    };
    if ok {
        Ok(())
    } else {
        Err(RequestError::MalformedRequest(
            "request-target in no form its method allows",
        ))
    }
}

/// RFC 9112 §3.2.3 `authority-form = uri-host ":" port`, with a port (RFC
/// 9110 §9.3.6: CONNECT has no default port).
fn is_authority_form(target: &[u8]) -> bool {
    let Some(colon) = target.iter().rposition(|&b| b == b':') else {
        return false;
    };
    let (host, port) = (&target[..colon], &target[colon + 1..]);
    !host.is_empty()
        && !port.is_empty()
        && port.iter().all(u8::is_ascii_digit)
        && is_valid_host(target)
}

/// An absolute-URI with an authority (RFC 3986 §3: `scheme "://"`, the
/// shape of the `http` and `https` URIs of RFC 9110 §4.2), whose host is a
/// valid, non-empty `uri-host` (it becomes `HTTP_HOST`, §3.2.2).
fn is_absolute_form(target: &[u8]) -> bool {
    let Some(sep) = target.windows(3).position(|w| w == b"://") else {
        return false;
    };
    let scheme = &target[..sep];
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    scheme_ok && absolute_authority(target).is_some_and(|a| !a.is_empty() && is_valid_host(a))
}

/// `true` for a Host value RFC 9112 §3.2 accepts: `uri-host [":" port]`
/// (RFC 3986 §3.2.2: an IP literal in brackets, or a reg-name of unreserved,
/// sub-delims and `%`), or empty.
#[must_use]
pub fn is_valid_host(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        let Some(end) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        let literal = &value[1..end];
        if literal.is_empty()
            || !literal
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b":.vV".contains(&b) || is_reg_name_byte(b))
        {
            return false;
        }
        (&b""[..], &value[end + 1..])
    } else {
        let colon = value.iter().position(|&b| b == b':').unwrap_or(value.len());
        (&value[..colon], &value[colon..])
    };
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    port_ok && host.iter().all(|&b| is_reg_name_byte(b))
}

/// RFC 3986 reg-name bytes: unreserved, sub-delims, `%` of pct-encoded
/// (a table: a Host value is checked byte by byte on every request).
fn is_reg_name_byte(b: u8) -> bool {
    const TABLE: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let c = i as u8;
            t[i] = c.is_ascii_alphanumeric();
            i += 1;
        }
        let extra = b"-._~!$&'()*+,;=%";
        let mut j = 0;
        while j < extra.len() {
            t[extra[j] as usize] = true;
            j += 1;
        }
        t
    };
    TABLE[usize::from(b)]
}

/// The authority (`host[:port]`) of an absolute-form request-target such as
/// `http://example.com:8080/p?q`; `None` for origin form and `*`.
#[must_use]
pub fn absolute_authority(target: &[u8]) -> Option<&[u8]> {
    if target.first() == Some(&b'/') {
        return None;
    }
    let i = target.windows(3).position(|w| w == b"://")?;
    let after = &target[i + 3..];
    let end = after
        .iter()
        .position(|&b| b == b'/' || b == b'?' || b == b'#')
        .unwrap_or(after.len());
    let authority = &after[..end];
    // Userinfo (`user@`) is not part of Host (RFC 9110 §4.2.4 forbids it).
    Some(authority.rsplit(|&b| b == b'@').next().unwrap_or(authority))
}

/// Splits a request-target into the percent-decoded path (bytes; PEP 3333
/// then decodes them as latin-1) and the raw query string.
///
/// Origin form `/p?q` is the usual case; absolute form
/// `http://host/p?q` (RFC 9112 §3.2.2: a server MUST accept it) keeps only
/// its path; `*` (OPTIONS) stays `*`.
#[must_use]
pub fn split_target(target: &[u8]) -> (Cow<'_, [u8]>, &[u8]) {
    // A fragment is for the client alone (RFC 9110 §7.1); dropped, as
    // gunicorn and waitress drop it.
    let target = target.split(|&b| b == b'#').next().unwrap_or(target);
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(q) => (&target[..q], &target[q + 1..]),
        None => (target, &b""[..]),
    };
    let path = match path.windows(3).position(|w| w == b"://") {
        Some(i) if path.first() != Some(&b'/') => {
            let after = &path[i + 3..];
            after
                .iter()
                .position(|&b| b == b'/')
                .map_or(&b"/"[..], |p| &after[p..])
        }
        _ => path,
    };
    (percent_decode(path).into(), query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_form_authority() {
        assert_eq!(absolute_authority(b"http://h:1/p?q"), Some(&b"h:1"[..]));
        assert_eq!(absolute_authority(b"http://h?q"), Some(&b"h"[..]));
        assert_eq!(absolute_authority(b"http://u@h/"), Some(&b"h"[..]));
        assert_eq!(absolute_authority(b"http://h#f"), Some(&b"h"[..]));
        assert_eq!(absolute_authority(b"/p?x=http://h"), None);
        assert_eq!(absolute_authority(b"*"), None);
    }

    #[test]
    fn split_target_forms() {
        for (target, path, query) in [
            (&b"/"[..], &b"/"[..], &b""[..]),
            (b"/a%20b?x=1&y=%20", b"/a b", b"x=1&y=%20"),
            (b"/caf%C3%A9", "/café".as_bytes(), b""),
            (b"/a%2Fb", b"/a/b", b""),
            (b"/bad%zz", b"/bad%zz", b""),
            (b"http://example.com/p?q", b"/p", b"q"),
            (b"http://example.com", b"/", b""),
            (b"*", b"*", b""),
            (b"/x?", b"/x", b""),
            (b"/p?q=1#frag", b"/p", b"q=1"),
            (b"/p#frag?x", b"/p", b""),
            (b"http://h#f", b"/", b""),
        ] {
            let (p, q) = split_target(target);
            assert_eq!((p.as_ref(), q), (path, query), "{target:?}");
        }
    }

    #[test]
    fn host_values() {
        for ok in [
            &b""[..],
            b"h",
            b"h:80",
            b"a.b-c_d~",
            b"[::1]",
            b"[::1]:8080",
            b"xn--caf-dma.fr:1",
            b"127.0.0.1:0",
        ] {
            assert!(is_valid_host(ok), "{ok:?}");
        }
        for bad in [
            &b"a b"[..],
            b"a/b",
            b"a@b",
            b"h:8x",
            b"[::1",
            b"[]",
            b"[::1]x",
            b"a:b:c",
            b"\xe9",
        ] {
            assert!(!is_valid_host(bad), "{bad:?}");
        }
    }
}
