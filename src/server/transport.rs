//! [Stages 1, 8](super): One connection's bytes: the non-blocking socket, its input and
//! output buffers, and what the last readiness edge said; under HTTPS the
//! plaintext goes through the connection's [`TlsSession`] on its way.
//!
//! The client is a socket, or (for the tests of the connection layer) an
//! in-memory [`MemoryPeer`] whose input arrives in chosen pieces and whose
//! room for output is chosen too: the same state machine runs on both.
//! While application code runs, the output side is lent to the
//! `start_response` of the exchange ([`Transport::swap_output`]), so that
//! `write()` sends its bytes before it returns (PEP 3333 "The write()
//! Callable").
//!
//! mio is edge-triggered: after an edge the socket is read or written until
//! `WouldBlock`, and only a new edge makes it worth trying again. The
//! protocol state lives in `connection.rs`; this file only moves bytes.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::Registry;
use pyo3::Python;

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
pub(crate) enum Received {
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
pub(crate) struct Transport {
    /// The client.
    peer: Peer,
    /// Input storage; bytes `start..end` are received and not yet used.
    /// It stays initialised, so reads never zero memory again.
    input: Vec<u8>,
    start: usize,
    end: usize,
    /// Output not yet written: `out[out_pos..]`.
    pub(crate) out: Vec<u8>,
    out_pos: usize,
    readable: bool,
    writable: bool,
    /// The last edge said the client has closed its side: no later edge
    /// will come, so reading goes on until it says so (end of file).
    read_closed: bool,
    /// The client closed its sending side.
    pub(crate) eof: bool,
    /// When bytes last moved in either direction (for timeouts).
    pub(crate) last_activity: Instant,
    /// The TLS session on an HTTPS server's connection.
    tls: Option<Box<TlsSession>>,
    /// Why the TLS session was given up, until the connection asks.
    refusal: Option<Refusal>,
}

impl Transport {
    /// Wraps a freshly accepted socket (assumed ready both ways until it
    /// says `WouldBlock`), with `tls` on an HTTPS server.
    #[must_use]
    pub(crate) fn new(stream: TcpStream, tls: Option<TlsSession>) -> Self {
        Self::over(Peer::Tcp(Arc::new(stream)), tls.map(Box::new))
    }

    #[cfg(test)]
    /// A transport whose client is `peer`, in memory (tests of the
    /// connection layer without a socket).
    #[must_use]
    pub(crate) fn memory(peer: MemoryPeer) -> Self {
        Self::over(Peer::Memory(Box::new(peer)), None)
    }

    fn over(peer: Peer, tls: Option<Box<TlsSession>>) -> Self {
        Self {
            peer,
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
            tls,
            refusal: None,
        }
    }

    #[cfg(test)]
    /// The in-memory client, for a test to look at and feed.
    pub(crate) fn memory_peer(&mut self) -> Option<&mut MemoryPeer> {
        match &mut self.peer {
            Peer::Memory(m) => Some(m),
            Peer::Tcp(_) => None,
        }
    }

    /// Removes the socket from the event loop's poll (before it is dropped).
    pub(crate) fn deregister(&self, registry: &Registry) {
        if let Peer::Tcp(stream) = &self.peer {
            let _ = registry.deregister(&mut SourceFd(&stream.as_raw_fd()));
        }
    }

    /// A transport for the same client with nothing buffered: the one an
    /// [`Outlet`](super::outlet::Outlet) keeps, into which this one's output
    /// side is swapped while application code runs.
    #[must_use]
    pub(crate) fn twin(&self) -> Self {
        let peer = match &self.peer {
            Peer::Tcp(stream) => Peer::Tcp(Arc::clone(stream)),
            Peer::Memory(_) => Peer::Memory(Box::default()),
        };
        Self::over(peer, None)
    }

    /// Swaps the output side (buffered output, the TLS session, the write
    /// edge, the activity clock) with `twin`'s: lent to application code
    /// so that `write()` can send at once, and swapped back after it. Only
    /// small fields move. Nothing reads from a transport while its output
    /// is lent: the request is already received whole.
    pub(crate) fn swap_output(&mut self, twin: &mut Self) {
        std::mem::swap(&mut self.out, &mut twin.out);
        std::mem::swap(&mut self.out_pos, &mut twin.out_pos);
        std::mem::swap(&mut self.tls, &mut twin.tls);
        std::mem::swap(&mut self.writable, &mut twin.writable);
        std::mem::swap(&mut self.last_activity, &mut twin.last_activity);
        if let (Peer::Memory(mine), Peer::Memory(theirs)) = (&mut self.peer, &mut twin.peer) {
            std::mem::swap(mine, theirs);
        }
    }

    /// Writes every buffered byte, waiting (with the GIL released) for the
    /// socket to take them, for at most `timeout`: a blocking write, for
    /// `write()`.
    ///
    /// # Errors
    /// The socket's error (the client went away), or `TimedOut` when the
    /// client did not read for `timeout`.
    pub(crate) fn flush_blocking(&mut self, py: Python<'_>, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.flush()? {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.peer.wait_writable(py, left)? {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.writable = true;
        }
        Ok(())
    }

    /// When the TLS handshake in progress started; `None` without TLS,
    /// before the client sent anything, and after the handshake.
    #[must_use]
    pub(crate) fn handshake_started(&self) -> Option<Instant> {
        self.tls.as_ref().and_then(|t| t.handshake_started())
    }

    /// Why the TLS session was given up (after [`Received::Refused`]).
    /// After [`Refusal::PlainHttp`] the transport writes plain bytes, so the
    /// client can be answered in the protocol it speaks.
    pub(crate) fn take_refusal(&mut self) -> Option<Refusal> {
        let refusal = self.refusal.take();
        if matches!(refusal, Some(Refusal::PlainHttp)) {
            self.tls = None;
        }
        refusal
    }

    /// Records a readiness edge; `read_closed` when the client's FIN (or an
    /// error) came with it.
    pub(crate) fn ready(&mut self, readable: bool, writable: bool, read_closed: bool) {
        self.readable |= readable;
        self.writable |= writable;
        self.read_closed |= read_closed;
    }

    /// Received bytes not yet consumed.
    #[must_use]
    pub(crate) fn input(&self) -> &[u8] {
        &self.input[self.start..self.end]
    }

    /// Marks the first `n` received bytes as used.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Drops all received bytes (after a request the server refused).
    pub(crate) fn discard_input(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Output bytes not yet written (under TLS: plaintext not yet
    /// encrypted plus ciphertext not yet written).
    #[must_use]
    pub(crate) fn pending(&self) -> usize {
        self.out.len() - self.out_pos + self.tls.as_ref().map_or(0, |t| t.wire_pending())
    }

    /// `false` after a write said `WouldBlock`, until the next edge.
    #[must_use]
    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }

    /// Drops output not yet written (the response is being aborted).
    pub(crate) fn discard_output(&mut self) {
        self.out.clear();
        self.out_pos = 0;
    }

    /// Reads up to `want` bytes into the input buffer (decrypted under
    /// TLS, where bytes rustls already holds come before the socket).
    pub(crate) fn read_some(&mut self, want: usize) -> Received {
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
            match self.peer.read(&mut self.input[self.end..self.end + want]) {
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
        let got = tls.read(&mut self.peer, buf, &mut self.readable, self.read_closed);
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
    pub(crate) fn flush(&mut self) -> io::Result<bool> {
        if let Some(tls) = self.tls.as_deref_mut() {
            loop {
                let n = write_until_blocked(&mut self.peer, tls.wire(), &mut self.writable)?;
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
                &mut self.peer,
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
    pub(crate) fn send_file(&mut self, file: &mut FileBody) -> io::Result<Option<usize>> {
        if !self.writable {
            return Ok(None);
        }
        let stream = match &self.peer {
            Peer::Tcp(stream) if self.tls.is_none() => stream,
            // The kernel cannot encrypt: read the file into the output.
            _ => {
                let n = file.read_into(&mut self.out, TLS_FILE_BLOCK_BYTES)?;
                self.flush()?;
                return Ok(Some(n));
            }
        };
        let sent = file.send_to(&**stream)?;
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
    pub(crate) fn close_write(&mut self) -> bool {
        if let Some(tls) = self.tls.as_deref_mut() {
            if tls.close_notify() && (self.flush().is_ok() && self.pending() > 0) {
                return false;
            }
        }
        self.peer.shutdown_write();
        true
    }

    /// Reads and drops input (lingering close); `true` once the client
    /// closed, failed, or sent more than `max_bytes` in total (`dropped`).
    pub(crate) fn drain_until_closed(&mut self, dropped: &mut usize, max_bytes: usize) -> bool {
        let mut scratch = [0u8; 4096];
        while self.readable {
            match self.peer.read(&mut scratch) {
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

/// The client end of a [`Transport`].
#[derive(Debug)]
enum Peer {
    /// A socket; shared with a lent output side (`&TcpStream` reads and
    /// writes, so no lock is needed).
    Tcp(Arc<TcpStream>),
    /// A client in memory: made only by tests (`Transport::memory`); the
    /// arms that serve it stay in every build, so that the tests run the
    /// matches the server runs.
    #[cfg_attr(not(test), allow(dead_code))]
    Memory(Box<MemoryPeer>),
}

impl Peer {
    /// Waits up to `timeout` for the socket to take more output, with the
    /// GIL released; `false` when it did not.
    fn wait_writable(&self, py: Python<'_>, timeout: Duration) -> io::Result<bool> {
        match self {
            Self::Tcp(stream) => {
                let stream = &**stream;
                let ts =
                    rustix::event::Timespec::try_from(timeout).unwrap_or(rustix::event::Timespec {
                        tv_sec: i64::MAX,
                        tv_nsec: 0,
                    });
                py.detach(|| {
                    let mut fds = [rustix::event::PollFd::new(
                        stream,
                        rustix::event::PollFlags::OUT,
                    )];
                    loop {
                        match rustix::event::poll(&mut fds, Some(&ts)) {
                            Ok(n) => return Ok(n > 0),
                            Err(rustix::io::Errno::INTR) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                })
            }
            Self::Memory(m) => Ok(m.room != Some(0)),
        }
    }

    /// Ends the sending side.
    fn shutdown_write(&mut self) {
        match self {
            Self::Tcp(stream) => {
                let _ = stream.shutdown(std::net::Shutdown::Write);
            }
            Self::Memory(m) => m.write_closed = true,
        }
    }
}

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(stream) => (&**stream).read(buf),
            Self::Memory(m) => m.read(buf),
        }
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(stream) => (&**stream).write(buf),
            Self::Memory(m) => m.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A client in memory, for driving the connection layer without a socket:
/// each read takes at most the front piece of `incoming` (so a test
/// chooses where reads split the bytes); writes go to `received`, at most
/// `room` bytes in all before the next write says `WouldBlock` (a client
/// that stops reading).
#[derive(Debug, Default)]
pub(crate) struct MemoryPeer {
    /// Bytes still to arrive, one read per piece at most.
    pub(crate) incoming: VecDeque<Vec<u8>>,
    /// After `incoming`, the client closes its sending side (end of file);
    /// otherwise reads say `WouldBlock`.
    pub(crate) eof: bool,
    /// What the server sent.
    pub(crate) received: Vec<u8>,
    /// How many more bytes the client takes; `None`: as many as are sent.
    pub(crate) room: Option<usize>,
    /// The server ended its sending side.
    pub(crate) write_closed: bool,
}

impl MemoryPeer {
    #[cfg(test)]
    /// A client that sends `pieces`, one read each, then waits.
    #[must_use]
    pub(crate) fn sending<I, P>(pieces: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<Vec<u8>>,
    {
        Self {
            incoming: pieces.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

impl Read for MemoryPeer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(front) = self.incoming.front_mut() else {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        };
        let n = front.len().min(buf.len());
        buf[..n].copy_from_slice(&front[..n]);
        front.drain(..n);
        if front.is_empty() {
            self.incoming.pop_front();
        }
        Ok(n)
    }
}

impl Write for MemoryPeer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.write_closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = self.room.map_or(buf.len(), |room| room.min(buf.len()));
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.received.extend_from_slice(&buf[..n]);
        if let Some(room) = &mut self.room {
            *room -= n;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `buf` to `stream` until it is all written or the socket says
/// `WouldBlock` (then `writable` is cleared); returns the bytes written.
fn write_until_blocked(
    stream: &mut impl Write,
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
