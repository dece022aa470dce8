//! [Stages 1, 8](super): TLS on one connection: a rustls `ServerConnection` driven by the
//! event loop's non-blocking socket, never waiting on it.
//!
//! Ciphertext is read (`read_tls`) only when rustls holds no plaintext, and
//! decrypted at once (`process_new_packets`). What rustls has to send
//! (handshake messages, encrypted records, alerts) is moved into this
//! session's own buffer, [`TlsSession::wire`], which the transport writes
//! when the socket is writable, so the bytes waiting to go out are always
//! known. A client that connects and sends nothing is an idle socket like
//! any other; a handshake that has begun is bounded by the header timeout
//! (`Connection::sweep`).

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use rustls::server::{ServerConfig, ServerConnection};
use rustls::AlertDescription;

/// How many of the client's first bytes are kept to recognize plain HTTP.
const FIRST_BYTES: usize = 16;

/// Why a TLS connection was given up.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The client sent a plain HTTP request (`GET / HTTP/1.1`) to the TLS
    /// socket.
    PlainHttp,
    /// The TLS session failed (the client's alert, a protocol error).
    Failed(rustls::Error),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PlainHttp => f.write_str("plain HTTP sent to the HTTPS port"),
            Self::Failed(
                e @ rustls::Error::AlertReceived(
                    AlertDescription::UnknownCA
                    | AlertDescription::BadCertificate
                    | AlertDescription::CertificateUnknown,
                ),
            ) => write!(f, "{e} (the client does not trust the certificate)"),
            Self::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// The outcome of [`TlsSession::read`].
#[derive(Debug)]
pub(crate) enum Decrypted {
    /// This many plaintext bytes were put in the buffer.
    Data(usize),
    /// Nothing to read until the next readable edge.
    WouldBlock,
    /// The client closed (with `close_notify` or without).
    Eof,
    /// The socket failed (reset).
    Failed,
    /// The session is over: see [`Refusal`].
    Refused(Refusal),
}

/// One connection's TLS state and its ciphertext waiting to be sent.
pub(crate) struct TlsSession {
    conn: ServerConnection,
    /// Ciphertext to send: `wire[wire_pos..]`.
    wire: Vec<u8>,
    wire_pos: usize,
    /// The client's first bytes, to tell a plain HTTP request from a
    /// ClientHello.
    first: Vec<u8>,
    /// When the handshake's first byte arrived; `None` before it and once
    /// the handshake is complete.
    handshake_started: Option<Instant>,
    close_notify_sent: bool,
}

impl fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSession")
            .field("handshaking", &self.conn.is_handshaking())
            .field("wire_pending", &self.wire_pending())
            .finish_non_exhaustive()
    }
}

impl TlsSession {
    /// A server session under `config`, before the ClientHello.
    ///
    /// # Errors
    /// When rustls refuses the configuration (it has no protocol version).
    pub(crate) fn new(config: &Arc<ServerConfig>) -> Result<Self, rustls::Error> {
        Ok(Self {
            conn: ServerConnection::new(Arc::clone(config))?,
            wire: Vec::new(),
            wire_pos: 0,
            first: Vec::new(),
            handshake_started: None,
            close_notify_sent: false,
        })
    }

    /// When the handshake in progress started (its first byte arrived);
    /// `None` before the client sent anything and after the handshake.
    #[must_use]
    pub(crate) fn handshake_started(&self) -> Option<Instant> {
        self.handshake_started
    }

    /// Puts up to `buf.len()` plaintext bytes into `buf`, reading and
    /// decrypting ciphertext from `sock` when rustls holds none. `readable`
    /// is the transport's edge flag: cleared when the socket is drained
    /// (`WouldBlock`, or a short read without the client's FIN).
    pub(crate) fn read(
        &mut self,
        sock: &mut dyn Read,
        buf: &mut [u8],
        readable: &mut bool,
        read_closed: bool,
    ) -> Decrypted {
        loop {
            match self.conn.reader().read(buf) {
                // Ok(0): close_notify; UnexpectedEof: a FIN without it.
                // Either way no request follows.
                Ok(0) => return Decrypted::Eof,
                Ok(n) => return Decrypted::Data(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Decrypted::Eof,
            }
            if !*readable {
                return Decrypted::WouldBlock;
            }
            let mut wire = Wire {
                sock,
                first: &mut self.first,
                short: false,
            };
            match self.conn.read_tls(&mut wire) {
                // The end of file is recorded; the reader reports it.
                Ok(0) => {}
                Ok(_) => {
                    if wire.short && !read_closed {
                        *readable = false;
                    }
                    if self.conn.is_handshaking() {
                        self.handshake_started.get_or_insert_with(Instant::now);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    *readable = false;
                    return Decrypted::WouldBlock;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Decrypted::Failed,
            }
            if let Err(e) = self.conn.process_new_packets() {
                if self.conn.is_handshaking() && looks_like_http(&self.first) {
                    // No alert: a plain HTTP client could not read it.
                    return Decrypted::Refused(Refusal::PlainHttp);
                }
                // The alert rustls queued goes out before the close.
                self.collect();
                return Decrypted::Refused(Refusal::Failed(e));
            }
            if !self.conn.is_handshaking() {
                self.handshake_started = None;
            }
            self.collect();
        }
    }

    /// Encrypts up to `plain.len()` bytes into [`TlsSession::wire`];
    /// returns how many were taken (fewer while the handshake is not done
    /// and rustls's plaintext buffer is full).
    ///
    /// # Errors
    /// When rustls no longer accepts data (the session was closed).
    pub(crate) fn encrypt(&mut self, plain: &[u8]) -> io::Result<usize> {
        let n = self.conn.writer().write(plain)?;
        self.collect();
        Ok(n)
    }

    /// Queues the `close_notify` alert (RFC 8446 §6.1) once; `true` the
    /// first time.
    pub(crate) fn close_notify(&mut self) -> bool {
        if std::mem::replace(&mut self.close_notify_sent, true) {
            return false;
        }
        self.conn.send_close_notify();
        self.collect();
        true
    }

    /// Ciphertext waiting to be written.
    #[must_use]
    pub(crate) fn wire(&self) -> &[u8] {
        &self.wire[self.wire_pos..]
    }

    /// Bytes of ciphertext waiting to be written.
    #[must_use]
    pub(crate) fn wire_pending(&self) -> usize {
        self.wire.len() - self.wire_pos
    }

    /// Marks `n` bytes of [`TlsSession::wire`] as written.
    pub(crate) fn wire_sent(&mut self, n: usize) {
        self.wire_pos += n;
        if self.wire_pos == self.wire.len() {
            self.wire.clear();
            self.wire_pos = 0;
        }
    }

    /// Moves what rustls has to send into [`TlsSession::wire`].
    fn collect(&mut self) {
        while self.conn.wants_write() {
            // Writing into a Vec cannot fail.
            if self.conn.write_tls(&mut self.wire).is_err() {
                break;
            }
        }
    }
}

/// The socket as rustls reads it: keeps the connection's first bytes and
/// says whether a read came back short (the socket is then drained).
struct Wire<'a> {
    sock: &'a mut dyn Read,
    first: &'a mut Vec<u8>,
    short: bool,
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.sock.read(buf)?;
        self.short = n < buf.len();
        let keep = (FIRST_BYTES - self.first.len()).min(n);
        self.first.extend_from_slice(&buf[..keep]);
        Ok(n)
    }
}

/// `true` when `first` starts like an HTTP/1 request line: an upper-case
/// method token and a space (RFC 9112 §3; every registered method is upper
/// case). A TLS record starts with a content type byte (20–24, RFC 8446
/// §5.1), never a letter.
#[must_use]
pub(crate) fn looks_like_http(first: &[u8]) -> bool {
    let letters = first.iter().take_while(|b| b.is_ascii_uppercase()).count();
    letters > 0 && first.get(letters) == Some(&b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_told_from_tls() {
        let cases: &[(&[u8], bool)] = &[
            (b"GET / HTTP/1.1\r\n", true),
            (b"POST /x HTTP/1.0", true),
            (b"OPTIONS * HTTP/1", true),
            (b"PRI * HTTP/2.0\r\n", true),
            // A ClientHello record: handshake (22), TLS 1.0 record version.
            (b"\x16\x03\x01\x02\x00\x01\x00\x01", false),
            (b"get / HTTP/1.1", false),
            (b" GET /", false),
            (b"GET", false),
            (b"", false),
            (b"SSH-2.0-OpenSSH", false),
        ];
        for &(first, http) in cases {
            assert_eq!(looks_like_http(first), http, "{first:?}");
        }
    }
}
