//! [1][8] One connection's bytes: the non-blocking socket, its input and
//! output buffers, and what the last readiness edge said.
//!
//! mio is edge-triggered: after an edge the socket is read or written until
//! `WouldBlock`, and only a new edge makes it worth trying again. The
//! protocol state lives in `connection.rs`; this file only moves bytes.

use std::io::{self, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;

use super::config::HIGH_WATER_BYTES;
use super::sendfile::FileBody;

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
}

impl Transport {
    /// Wraps a freshly accepted socket (assumed ready both ways until it
    /// says `WouldBlock`).
    #[must_use]
    pub fn new(stream: TcpStream) -> Self {
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
        }
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

    /// Output bytes not yet written.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.out.len() - self.out_pos
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

    /// Reads up to `want` bytes into the input buffer.
    pub fn read_some(&mut self, want: usize) -> Received {
        if self.eof {
            return Received::Eof;
        }
        if !self.readable {
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

    /// Writes buffered output until done or `WouldBlock`; `Ok(true)` when
    /// everything has been handed to the kernel.
    ///
    /// # Errors
    /// The socket's error (the client went away).
    pub fn flush(&mut self) -> io::Result<bool> {
        while self.writable && self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out_pos += n;
                    self.last_activity = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.out_pos == self.out.len() {
            self.discard_output();
            return Ok(true);
        }
        if self.out_pos >= HIGH_WATER_BYTES {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        Ok(false)
    }

    /// Sends part of `file` straight from the kernel (`sendfile`), once the
    /// buffered output is gone: `Ok(Some(n))` bytes sent, `Ok(None)` when
    /// the socket is full (wait for the next writable edge).
    ///
    /// # Errors
    /// The socket's error (the client went away), or the file ended early.
    pub fn send_file(&mut self, file: &mut FileBody) -> io::Result<Option<usize>> {
        if !self.writable {
            return Ok(None);
        }
        let sent = file.send_to(&self.stream)?;
        match sent {
            Some(_) => self.last_activity = Instant::now(),
            None => self.writable = false,
        }
        Ok(sent)
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
