//! [Stages 1, 8](super): One connection's bytes: the non-blocking socket, its input and
//! output buffers, and what the last readiness edge said; under HTTPS the
//! plaintext goes through the connection's [`TlsSession`] on its way.
//!
//! mio is edge-triggered: after an edge the socket is read or written until
//! `WouldBlock`, and only a new edge makes it worth trying again. The
//! protocol state lives in `connection.rs`; this file only moves bytes.

use std::io::{self, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;

use super::config::HIGH_WATER_BYTES;
use super::impossible;
use super::sendfile::FileBody;
use super::tls::{Decrypted, Refusal, TlsSession};

/// Plaintext bytes handed to rustls per record batch: bounds the ciphertext
/// buffered for a socket that is not writable.
const TLS_BATCH_BYTES: usize = 64 * 1024;

/// Bytes of a `wsgi.file_wrapper` file read per turn under TLS, where
/// `sendfile` cannot be used (the kernel does not encrypt).
const TLS_FILE_BLOCK_BYTES: usize = 64 * 1024;

/// The outcome of [`Transport::read_some`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// New bytes are in the input buffer.
    Data,
    /// Nothing to read until the next readable edge.
    WouldBlock,
    /// The client closed its side (no more requests will come).
    Eof,
    /// The socket failed (reset): the connection is gone.
    Failed,
    /// The TLS session is over; [`Transport::take_refusal`] says why.
    Refused,
}

/// A socket with buffered, non-blocking input and output.
#[derive(Debug)]
#[allow(clippy::struct_excessive_bools)] // independent facts about the socket, not a state
pub struct Transport {
    /// The socket (registered with the poll by the event loop).
    pub stream: TcpStream,
    /// Input storage; bytes `start..end` are received and not yet used.
    /// It stays initialised, so reads never zero memory again.
    input: Vec<u8>,
    start: usize,
    end: usize,
    /// Output not yet written: `out[out_pos..]`.
    pub out: Vec<u8>,
    out_pos: usize,
    readable: bool,
    writable: bool,
    /// The last edge said the client has closed its side: no later edge
    /// will come, so reading goes on until it says so (end of file).
    read_closed: bool,
    /// The client closed its sending side.
    pub eof: bool,
    /// When bytes last moved in either direction (for timeouts).
    pub last_activity: Instant,
    /// The TLS session on an HTTPS server's connection.
    tls: Option<Box<TlsSession>>,
    /// Why the TLS session was given up, until the connection asks.
    refusal: Option<Refusal>,
}

impl Transport {
    /// Wraps a freshly accepted socket (assumed ready both ways until it
    /// says `WouldBlock`), with `tls` on an HTTPS server.
    #[must_use]
    pub fn new(stream: TcpStream, tls: Option<TlsSession>) -> Self {
        Self {
            stream,
            input: Vec::new(),
            start: 0,
            end: 0,
            out: Vec::new(),
            out_pos: 0,
            readable: true,
            writable: true,
            read_closed: false,
            eof: false,
            last_activity: Instant::now(),
            tls: tls.map(Box::new),
            refusal: None,
        }
    }

    /// When the TLS handshake in progress started; `None` without TLS,
    /// before the client sent anything, and after the handshake.
    #[must_use]
    pub fn handshake_started(&self) -> Option<Instant> {
        self.tls.as_ref().and_then(|t| t.handshake_started())
    }

    /// Why the TLS session was given up (after [`Received::Refused`]).
    /// After [`Refusal::PlainHttp`] the transport writes plain bytes, so the
    /// client can be answered in the protocol it speaks.
    pub fn take_refusal(&mut self) -> Option<Refusal> {
        let refusal = self.refusal.take();
        if matches!(refusal, Some(Refusal::PlainHttp)) {
            self.tls = None;
        }
        refusal
    }

    /// Records a readiness edge; `read_closed` when the client's FIN (or an
    /// error) came with it.
    pub fn ready(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.readable |= readable;
        self.writable |= writable;
        self.read_closed |= read_closed;
    }

    /// Received bytes not yet consumed.
    #[must_use]
    pub fn input(&self) -> &[u8] {
        &self.input[self.start..self.end]
    }

    /// Marks the first `n` received bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Drops all received bytes (after a request the server refused).
    pub fn discard_input(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Output bytes not yet written (under TLS: plaintext not yet
    /// encrypted plus ciphertext not yet written).
    #[must_use]
    pub fn pending(&self) -> usize {
        self.out.len() - self.out_pos + self.tls.as_ref().map_or(0, |t| t.wire_pending())
    }

    /// `false` after a write said `WouldBlock`, until the next edge.
    #[must_use]
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Drops output not yet written (the response is being aborted).
    pub fn discard_output(&mut self) {
        self.out.clear();
        self.out_pos = 0;
    }

    /// Reads up to `want` bytes into the input buffer (decrypted under
    /// TLS, where bytes rustls already holds come before the socket).
    pub fn read_some(&mut self, want: usize) -> Received {
        if self.eof {
            return Received::Eof;
        }
        if !self.readable && self.tls.is_none() {
            return Received::WouldBlock;
        }
        if self.input.len() - self.end < want {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.input.len() - self.end < want {
                self.input.resize(self.end + want, 0);
            }
        }
        if self.tls.is_some() {
            return self.read_tls(want);
        }
        let res = loop {
            match self.stream.read(&mut self.input[self.end..self.end + want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        match res {
            Ok(0) => {
                self.eof = true;
                Received::Eof
            }
            Ok(n) => {
                self.end += n;
                self.last_activity = Instant::now();
                // A short read drained the socket; the next edge says when
                // more arrives (saves a read that would only say WouldBlock)
                // unless the FIN came with this edge: then no edge follows,
                // and the next read must see the end of file.
                if n < want && !self.read_closed {
                    self.readable = false;
                }
                Received::Data
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readable = false;
                Received::WouldBlock
            }
            Err(_) => Received::Failed,
        }
    }

    /// [`Transport::read_some`] under TLS (room for `want` bytes is made).
    fn read_tls(&mut self, want: usize) -> Received {
        let Some(tls) = self.tls.as_deref_mut() else {
            impossible!("read_tls on a connection without TLS");
            return Received::Failed;
        };
        let buf = &mut self.input[self.end..self.end + want];
        let got = tls.read(&mut self.stream, buf, &mut self.readable, self.read_closed);
        // Handshake messages and alerts that the read produced go out now:
        // no other edge would ask for them.
        let sent = self.flush();
        match got {
            Decrypted::Data(n) => {
                self.end += n;
                self.last_activity = Instant::now();
                Received::Data
            }
            Decrypted::WouldBlock if sent.is_err() => Received::Failed,
            Decrypted::WouldBlock => Received::WouldBlock,
            Decrypted::Eof => {
                self.eof = true;
                Received::Eof
            }
            Decrypted::Failed => Received::Failed,
            Decrypted::Refused(why) => {
                self.refusal = Some(why);
                Received::Refused
            }
        }
    }

    /// Writes buffered output until done or `WouldBlock` (under TLS,
    /// encrypting it in batches first); `Ok(true)` when everything has
    /// been handed to the kernel.
    ///
    /// # Errors
    /// The socket's error (the client went away).
    pub fn flush(&mut self) -> io::Result<bool> {
        if let Some(tls) = self.tls.as_deref_mut() {
            loop {
                let n = write_until_blocked(&mut self.stream, tls.wire(), &mut self.writable)?;
                if n > 0 {
                    tls.wire_sent(n);
                    self.last_activity = Instant::now();
                }
                if tls.wire_pending() > 0 || self.out_pos == self.out.len() {
                    break;
                }
                let batch = self.out.len().min(self.out_pos + TLS_BATCH_BYTES);
                match tls.encrypt(&self.out[self.out_pos..batch])? {
                    0 => break,
                    n => self.out_pos += n,
                }
            }
        } else {
            let n = write_until_blocked(
                &mut self.stream,
                &self.out[self.out_pos..],
                &mut self.writable,
            )?;
            if n > 0 {
                self.out_pos += n;
                self.last_activity = Instant::now();
            }
        }
        if self.out_pos == self.out.len() {
            self.discard_output();
            return Ok(self.pending() == 0);
        }
        if self.out_pos >= HIGH_WATER_BYTES {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        Ok(false)
    }

    /// Sends part of `file` straight from the kernel (`sendfile`), once the
    /// buffered output is gone: `Ok(Some(n))` bytes sent, `Ok(None)` when
    /// the socket is full (wait for the next writable edge). Under TLS the
    /// part is read into the output and encrypted instead.
    ///
    /// # Errors
    /// The socket's error (the client went away), or the file ended early.
    pub fn send_file(&mut self, file: &mut FileBody) -> io::Result<Option<usize>> {
        if !self.writable {
            return Ok(None);
        }
        if self.tls.is_some() {
            // The kernel cannot encrypt: read the file into the output.
            let n = file.read_into(&mut self.out, TLS_FILE_BLOCK_BYTES)?;
            self.flush()?;
            return Ok(Some(n));
        }
        let sent = file.send_to(&self.stream)?;
        match sent {
            Some(_) => self.last_activity = Instant::now(),
            None => self.writable = false,
        }
        Ok(sent)
    }

    /// Ends the sending side: under TLS a `close_notify` alert first (RFC
    /// 8446 §6.1, so the client can tell the end from a truncation), then
    /// `shutdown(Write)`. `false` while the alert waits for the socket: call
    /// again once [`Transport::pending`] is 0.
    pub fn close_write(&mut self) -> bool {
        if let Some(tls) = self.tls.as_deref_mut() {
            if tls.close_notify() && (self.flush().is_ok() && self.pending() > 0) {
                return false;
            }
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        true
    }

    /// Reads and drops input (lingering close); `true` once the client
    /// closed, failed, or sent more than `max_bytes` in total (`dropped`).
    pub fn drain_until_closed(&mut self, dropped: &mut usize, max_bytes: usize) -> bool {
        let mut scratch = [0u8; 4096];
        while self.readable {
            match self.stream.read(&mut scratch) {
                Ok(0) => return true,
                Ok(n) => {
                    *dropped += n;
                    if *dropped > max_bytes {
                        return true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
        false
    }
}

/// Writes `buf` to `stream` until it is all written or the socket says
/// `WouldBlock` (then `writable` is cleared); returns the bytes written.
fn write_until_blocked(
    stream: &mut TcpStream,
    buf: &[u8],
    writable: &mut bool,
) -> io::Result<usize> {
    let mut done = 0;
    while *writable && done < buf.len() {
        match stream.write(&buf[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => *writable = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
