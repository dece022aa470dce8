//! The listening socket: `host`:`port` resolved and bound ([`listen`]), or
//! one that another process opened: `make_server(..., fd=N)`. The
//! `--reload` parent binds once and hands the socket to each child it
//! starts, so connections made while a child restarts wait in the kernel's
//! accept queue instead of being refused.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use pyo3::prelude::*;

use super::os_error;
use crate::errors::Error;
use crate::wsgi::repr_or_type;

/// The listening socket: `host`:`port` resolved (IPv4 first) and bound, or
/// the inherited socket `fd` ([`listener`]).
///
/// # Errors
/// `OSError` naming the host when it cannot be resolved, or the address
/// when it cannot be bound (with a hint when it is already in use).
pub(crate) fn listen(
    py: Python<'_>,
    host: &str,
    port: u16,
    fd: Option<i64>,
) -> PyResult<mio::net::TcpListener> {
    let host_repr = repr_or_type(pyo3::types::PyString::new(py, host).as_any());
    let host_owned = host.to_owned();
    let addrs: Vec<SocketAddr> = py
        .detach(|| (host_owned.as_str(), port).to_socket_addrs())
        .map_err(|e| os_error(&format!("host={host_repr} cannot be resolved"), &e))?
        .collect();
    let addr = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| Error::Os {
            what: format!("host={host_repr} cannot be resolved"),
            errno: None,
            why: "no address found".into(),
        })?;
    let bound = match fd {
        Some(fd) => listener(fd),
        None => mio::net::TcpListener::bind(addr),
    };
    bound.map_err(|e| {
        let mut err = os_error(&format!("cannot listen on {host}:{port}"), &e);
        if e.kind() == std::io::ErrorKind::AddrInUse {
            err = Error::Os {
                what: format!("cannot listen on {host}:{port}"),
                errno: e.raw_os_error(),
                why:
                    "address already in use (is another server running there? choose another port)"
                        .into(),
            }
            .into();
        }
        err
    })
}

/// The listening TCP socket behind file descriptor `fd`, as a non-blocking
/// mio listener of the server's own.
///
/// The server owns a duplicate (`dup(2)`), never `fd` itself, as
/// `socket.fromfd` does: the caller still owns `fd` and closes it when it
/// likes, and a wrong number can never make the server close a descriptor it
/// does not own. The socket must be a bound IPv4/IPv6 stream socket;
/// `listen(2)` is called again (a no-op for one that already listens).
pub(crate) fn listener(fd: i64) -> io::Result<mio::net::TcpListener> {
    let listener = TcpListener::from(dup(fd)?);
    let sock = socket2::SockRef::from(&listener);
    let not_tcp = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("fd {fd} {why}"));
    if sock.r#type()? != socket2::Type::STREAM {
        return Err(not_tcp("is not a stream (TCP) socket"));
    }
    let addr = sock
        .local_addr()?
        .as_socket()
        .ok_or_else(|| not_tcp("is not an IPv4 or IPv6 socket"))?;
    if addr.port() == 0 {
        return Err(not_tcp("is not bound to an address"));
    }
    sock.listen(1024)?;
    listener.set_nonblocking(true)?;
    Ok(mio::net::TcpListener::from_std(listener))
}

/// A new descriptor for the open file description behind `fd` (a `dup(2)`),
/// owned by the caller; `fd` itself is never closed. Shared by the inherited
/// listening socket and by `sendfile` of a `wsgi.file_wrapper`'s file.
///
/// # Errors
/// `EBADF` when `fd` is negative, too large or not open.
#[cfg(unix)]
#[allow(unsafe_code)]
pub(crate) fn dup(fd: i64) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{BorrowedFd, RawFd};
    let raw = RawFd::try_from(fd)
        .ok()
        .filter(|&n| n >= 0)
        .ok_or_else(|| io::Error::from(rustix::io::Errno::BADF))?;
    // SAFETY: `borrow_raw` asks that `raw` stay open while the BorrowedFd
    // lives. It lives only for the `dup(2)` on the next line, inside this
    // call; the kernel checks the number itself (EBADF when it is not open).
    // Only another thread closing `fd` at this very moment could break that,
    // which is the caller's race exactly as with `socket.fromfd` (the callers
    // hold the Python object that owns `fd`, with the GIL held). Std offers no
    // safe way to name an fd received as an integer (I/O safety), so this is
    // the one unsafe line, and nothing ever closes `raw` itself.
    let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
    borrowed.try_clone_to_owned()
}

/// Inherited sockets are a POSIX feature here (`fd` is a file descriptor).
#[cfg(not(unix))]
fn dup(_fd: i64) -> io::Result<socket2::Socket> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "serving an inherited fd needs a POSIX system",
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn serves_a_duplicate_and_leaves_the_original_open() {
        let original = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = original.local_addr().unwrap().port();
        let adopted = listener(i64::from(original.as_raw_fd())).unwrap();
        assert_eq!(adopted.local_addr().unwrap().port(), port);
        drop(adopted);
        // The original is still ours and still listening.
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert!(original.accept().is_ok());
    }

    #[test]
    fn refuses_what_is_not_a_bound_tcp_socket() {
        for fd in [-1, i64::from(i32::MAX), i64::MAX] {
            assert!(listener(fd).is_err(), "fd {fd}");
        }
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let e = listener(i64::from(udp.as_raw_fd())).unwrap_err();
        assert!(e.to_string().contains("not a stream"), "{e}");
        let file = std::fs::File::open(file!()).unwrap();
        assert!(listener(i64::from(file.as_raw_fd())).is_err());
        let unbound =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let e = listener(i64::from(unbound.as_raw_fd())).unwrap_err();
        assert!(e.to_string().contains("not bound"), "{e}");
    }
}
