//! The lines of a chunked body's framing (RFC 9112 §7.1): chunk-size lines
//! with their extensions, and trailer lines, each checked byte by byte as
//! far as it has arrived.
//!
//! A wrong byte is refused when it arrives (not when its line ends, nor at
//! a timeout when it never does), and the first wrong byte or the first
//! byte past the line limit decides the answer, so it is the same however
//! the bytes are split into reads.

use super::super::error::RequestError;
use crate::wsgi::is_tchar;

/// A chunk-size line at the start of `rest`: `Ok(Some((n, size)))` when it
/// is complete (`n` bytes, CRLF included), `Ok(None)` while it is valid so
/// far. Its content holds at most `max` bytes.
///
/// # Errors
/// [`RequestError::BodyTooLarge`] as soon as the size is over `room` (the
/// bytes `max_body_bytes` still allows); [`RequestError::MalformedRequest`]
/// for a size that is not 1*HEXDIG in 64 bits, an extension outside RFC
/// 9112 §7.1.1, a line longer than `max`, or a CR or LF that is not a CRLF.
pub(super) fn size_line(
    rest: &[u8],
    max: usize,
    room: u64,
) -> Result<Option<(usize, u64)>, RequestError> {
    let mut line = SizeLine {
        at: Size::Start,
        size: 0,
        room,
    };
    Ok(scan_line(rest, max, &mut line)?.map(|n| (n, line.size)))
}

/// A trailer line at the start of `rest`: `Ok(Some(n))` when it is complete
/// (`n` bytes, CRLF included; `2` is the empty line that ends the trailer
/// section), `Ok(None)` while it is valid so far.
///
/// # Errors
/// [`RequestError::MalformedRequest`] for a line that is not a field line
/// (RFC 9112 §7.1.2, §5), longer than `max`, or with a CR or LF that is not
/// a CRLF.
pub(super) fn trailer_line(rest: &[u8], max: usize) -> Result<Option<usize>, RequestError> {
    scan_line(rest, max, &mut TrailerLine::Start)
}

/// The grammar of one line of chunked framing, fed its bytes in order.
trait LineGrammar {
    /// Takes the next byte of the line (never CR: [`scan_line`] handles it).
    fn byte(&mut self, b: u8) -> Result<(), RequestError>;
    /// The line ends here (a CR came): is it complete?
    fn end(&mut self) -> Result<(), RequestError>;
}

/// Reads the line at the start of `rest` through `grammar`: `Ok(Some(n))`
/// when it is complete (`n` bytes, CRLF included), `Ok(None)` while every
/// byte so far is valid and the line has not ended.
///
/// A line holds at most `max` bytes before its CRLF: the byte after them
/// must be the CR, so a line of `max` bytes is accepted whole or with a
/// read ending between its CR and LF. A CR must be followed by LF and a
/// bare LF is refused by the grammars (no line may end without CRLF: a
/// proxy that ends lines at LF would frame the body differently, RFC 9112
/// §7.1, §11.2).
fn scan_line(
    rest: &[u8],
    max: usize,
    grammar: &mut impl LineGrammar,
) -> Result<Option<usize>, RequestError> {
    for (i, &b) in rest.iter().enumerate() {
        if b == b'\r' {
            grammar.end()?;
            return match rest.get(i + 1) {
                Some(b'\n') => Ok(Some(i + 2)),
                Some(_) => Err(RequestError::MalformedRequest(
                    "CR without LF in chunked framing",
                )),
                None => Ok(None),
            };
        }
        if i == max {
            return Err(RequestError::MalformedRequest(
                "chunked framing line too long",
            ));
        }
        grammar.byte(b)?;
    }
    Ok(None)
}

/// Where a chunk-size line is: `chunk-size *( BWS ";" BWS chunk-ext-name [
/// BWS "=" BWS chunk-ext-val ] ) CRLF` (RFC 9112 §7.1, §7.1.1), a name a
/// token and a value a token or a quoted-string (RFC 9110 §5.6).
///
/// httparse's `parse_chunk_size` is lenient on purpose: it takes
/// whitespace after the size with no `;` and any byte inside an extension,
/// a bare LF included. gunicorn, waitress and llhttp refuse those; so does
/// rswsgi, with this grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    /// Before the first digit.
    Start,
    /// In the hex digits.
    Digits,
    /// BWS after the size: a `;` must follow.
    BeforeSemicolon,
    /// After a `;` (and BWS): a name must follow.
    BeforeName,
    /// In an extension name.
    Name,
    /// BWS after a name: `=` or `;` must follow.
    AfterName,
    /// After `=` (and BWS): a value must follow.
    BeforeValue,
    /// In a token value.
    Token,
    /// In a quoted-string value.
    Quoted,
    /// After a backslash in a quoted-string.
    Escaped,
    /// Right after a quoted-string's closing quote.
    Closed,
    /// BWS after a value: a `;` must follow.
    AfterValue,
}

/// A chunk-size line being read: where it is, the size so far, and how
/// many more body bytes `max_body_bytes` allows.
struct SizeLine {
    at: Size,
    size: u64,
    room: u64,
}

impl SizeLine {
    /// The digits have ended: the size is known, and checked against the
    /// body limit at once (before any extension or data).
    fn sized(&self) -> Result<(), RequestError> {
        if self.size > self.room {
            Err(RequestError::BodyTooLarge)
        } else {
            Ok(())
        }
    }
}

impl LineGrammar for SizeLine {
    fn byte(&mut self, b: u8) -> Result<(), RequestError> {
        const BAD_SIZE: RequestError = RequestError::MalformedRequest("invalid chunk size");
        const BAD_EXT: RequestError = RequestError::MalformedRequest("invalid chunk extension");
        let bws = b == b' ' || b == b'\t';
        self.at = match self.at {
            Size::Start | Size::Digits if b.is_ascii_hexdigit() => {
                let digit = u64::from(char::from(b).to_digit(16).unwrap_or(0));
                // 1*HEXDIG that fits in 64 bits (leading zeros are free).
                self.size = self
                    .size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(digit))
                    .ok_or(BAD_SIZE)?;
                Size::Digits
            }
            Size::Digits if b == b';' || bws => {
                self.sized()?;
                if bws {
                    Size::BeforeSemicolon
                } else {
                    Size::BeforeName
                }
            }
            Size::Start | Size::Digits => return Err(BAD_SIZE),
            Size::Closed if bws => Size::AfterValue,
            Size::BeforeSemicolon
            | Size::BeforeName
            | Size::AfterName
            | Size::BeforeValue
            | Size::AfterValue
                if bws =>
            {
                self.at
            }
            Size::BeforeSemicolon
            | Size::Name
            | Size::AfterName
            | Size::Token
            | Size::Closed
            | Size::AfterValue
                if b == b';' =>
            {
                Size::BeforeName
            }
            Size::BeforeName | Size::Name if is_tchar(b) => Size::Name,
            Size::Name if bws => Size::AfterName,
            Size::Name | Size::AfterName if b == b'=' => Size::BeforeValue,
            Size::BeforeValue | Size::Token if is_tchar(b) => Size::Token,
            Size::BeforeValue if b == b'"' => Size::Quoted,
            Size::Token if bws => Size::AfterValue,
            Size::Quoted if b == b'"' => Size::Closed,
            Size::Quoted if b == b'\\' => Size::Escaped,
            // qdtext (HTAB, SP, visible ASCII but `"` and `\`, obs-text),
            // or the byte of a quoted-pair (HTAB, SP, VCHAR, obs-text).
            Size::Quoted | Size::Escaped if b == b'\t' || (b >= b' ' && b != 0x7f) => Size::Quoted,
            _ => return Err(BAD_EXT),
        };
        Ok(())
    }

    fn end(&mut self) -> Result<(), RequestError> {
        match self.at {
            Size::Start => Err(RequestError::MalformedRequest("invalid chunk size")),
            Size::Digits => self.sized(),
            Size::Name | Size::Token | Size::Closed => Ok(()),
            // `4 \r\n`, `4;\r\n`, `4;a=\r\n`, `4;a="b\r\n`, `4;a \r\n`
            _ => Err(RequestError::MalformedRequest("invalid chunk extension")),
        }
    }
}

/// Where a trailer line is: `field-name ":" OWS field-value OWS CRLF`, as a
/// header field line (RFC 9112 §7.1.2, §5), or the empty line that ends
/// the trailer section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrailerLine {
    /// At the start of the line: a name, or the end of the section.
    Start,
    /// In the field name.
    Name,
    /// After the colon.
    Value,
}

impl LineGrammar for TrailerLine {
    fn byte(&mut self, b: u8) -> Result<(), RequestError> {
        *self = match *self {
            Self::Start | Self::Name if is_tchar(b) => Self::Name,
            // obs-fold (RFC 9112 §5.2) is refused in trailers as in the head.
            Self::Start if b == b' ' || b == b'\t' => {
                return Err(RequestError::MalformedRequest("folded trailer line"))
            }
            Self::Name if b == b':' => Self::Value,
            Self::Start | Self::Name => {
                return Err(RequestError::MalformedRequest("invalid trailer field name"))
            }
            // field-vchar, SP and HTAB (RFC 9110 §5.5): no NUL, no control.
            Self::Value if b == b'\t' || (b >= b' ' && b != 0x7f) => Self::Value,
            Self::Value => {
                return Err(RequestError::MalformedRequest(
                    "invalid trailer field value",
                ))
            }
        };
        Ok(())
    }

    fn end(&mut self) -> Result<(), RequestError> {
        match self {
            Self::Start | Self::Value => Ok(()),
            Self::Name => Err(RequestError::MalformedRequest(
                "trailer line without a colon",
            )),
        }
    }
}
