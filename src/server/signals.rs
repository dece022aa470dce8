//! Ctrl-C and SIGTERM while a server serves on the main thread: the first
//! asks the server to stop within the grace and raises nothing; the second
//! raises `KeyboardInterrupt` at once.
//!
//! CPython runs a signal's Python handler on the main thread between two
//! bytecodes, wherever that thread is. Its default SIGINT handler
//! (`signal.default_int_handler`) raises `KeyboardInterrupt` there, which is
//! most often inside the application: its call fails, the client gets an
//! empty reply and nothing is logged. So while the server runs, [`Handlers`]
//! puts an [`OnSignal`] in place of each SIGINT and SIGTERM handler that is
//! `default_int_handler` (the CLI sets SIGTERM to it too), and puts them
//! back after.
//!
//! The first signal is only counted, and the app call goes on. The event
//! loop sees the count where it runs the handlers (at most a tick after the
//! app returns) and stops as it did on `KeyboardInterrupt`: no more
//! accepting, idle connections closed, requests received and responses in
//! flight finished. All of that gets [`Limits::shutdown_grace_ms`](super::config::Limits::shutdown_grace_ms)
//! from the signal: an app call or a `next()` of a stream still running
//! then cannot be stopped but from inside, so a watchdog thread sends the
//! same signal again, to the main thread (a real signal, so that a
//! `time.sleep` in the app wakes up). A second signal, sent or typed,
//! raises `KeyboardInterrupt` wherever the main thread is, and the loop
//! stops at once. `serve_forever()` then raises `KeyboardInterrupt`, as it
//! always did.
//!
//! A handler someone else installed, `SIG_IGN` (a background job started
//! with SIGINT ignored) and `SIG_DFL` (SIGTERM's default: the process ends)
//! are left alone, and so is a server serving on another thread (only the
//! main thread may set handlers, and only it runs them).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;

/// Signals received since [`Handlers::install`]. One counter for the
/// process, as signal handlers are per process: only the main thread
/// installs them, so one server at a time owns the count.
static RECEIVED: AtomicU32 = AtomicU32::new(0);

/// Counts one signal: `Ok` for the first, `KeyboardInterrupt` after.
fn count() -> PyResult<()> {
    if RECEIVED.fetch_add(1, Ordering::SeqCst) == 0 {
        Ok(())
    } else {
        Err(PyKeyboardInterrupt::new_err(()))
    }
}

/// Signals received since the handlers were installed (0 when none were).
#[must_use]
pub(crate) fn received() -> u32 {
    RECEIVED.load(Ordering::SeqCst)
}

/// Runs Python's pending signal handlers, then answers whether to stop:
/// `Err(KeyboardInterrupt)` for a signal [`OnSignal`] counted (or the
/// exception a handler raised).
///
/// # Errors
/// As above: the loop stops gracefully on it.
pub(crate) fn check(py: Python<'_>) -> PyResult<()> {
    py.check_signals()?;
    if received() > 0 {
        return Err(PyKeyboardInterrupt::new_err(()));
    }
    Ok(())
}

/// Whether a graceful stop that began when [`received`] was `at_start`
/// should end at once: a second signal has come, or any signal since it
/// began (a stop for another reason, e.g. `SystemExit` from the app).
#[must_use]
pub(crate) fn hurry(at_start: u32) -> bool {
    let n = received();
    n >= 2 || n > at_start
}

/// The watchdog of a first signal: a thread that, unless called off, sends
/// the signal again once the grace is over.
#[derive(Debug, Default)]
struct Watchdog {
    /// Called off (the run ended).
    off: Mutex<bool>,
    wake: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Watchdog {
    /// Starts the thread: after `grace`, `signal.pthread_kill(main, signum)`.
    fn start(self: &Arc<Self>, grace: Duration, main: u64, signum: i32) {
        let me = Arc::clone(self);
        let deadline = Instant::now() + grace;
        let spawned = thread::Builder::new()
            .name("rswsgi-shutdown-grace".into())
            .spawn(move || {
                let mut off = me.off.lock().unwrap_or_else(PoisonError::into_inner);
                while !*off {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    off = me
                        .wake
                        .wait_timeout(off, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                if *off {
                    return;
                }
                drop(off);
                // A failure leaves the second Ctrl-C to the user.
                let _ = Python::attach(|py| resend(py, main, signum));
            });
        if let Ok(handle) = spawned {
            *self.thread.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
        }
    }

    /// Calls the watchdog off and waits for its thread (GIL released, as
    /// the thread may be waiting for it to send its signal).
    fn call_off(&self, py: Python<'_>) {
        *self.off.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            py.detach(|| {
                let _ = handle.join();
            });
        }
    }
}

/// Sends `signum` to the main thread (whose `threading` ident is `main`),
/// or, where `signal.pthread_kill` does not exist, has Python run its
/// handler as if it had come (`_thread.interrupt_main`).
fn resend(py: Python<'_>, main: u64, signum: i32) -> PyResult<()> {
    let signal = py.import("signal")?;
    if signal.hasattr("pthread_kill")? {
        signal.call_method1("pthread_kill", (main, signum))?;
    } else {
        py.import("_thread")?
            .call_method1("interrupt_main", (signum,))?;
    }
    Ok(())
}

/// The Python handler of SIGINT and SIGTERM while a server serves: the first
/// signal is counted and starts the grace; any later one raises
/// `KeyboardInterrupt`.
#[pyclass(module = "rswsgi._rswsgi", frozen)]
#[derive(Debug)]
struct OnSignal {
    grace: Duration,
    /// The main thread's `threading.get_ident()`.
    main: u64,
    watchdog: Arc<Watchdog>,
}

#[pymethods]
impl OnSignal {
    /// `handler(signum, frame)`, as `signal.signal` calls it.
    #[pyo3(signature = (signum, _frame))]
    fn __call__(&self, signum: i32, _frame: &Bound<'_, PyAny>) -> PyResult<()> {
        count()?;
        self.watchdog.start(self.grace, self.main, signum);
        Ok(())
    }
}

/// The handlers an [`OnSignal`] replaced, put back by [`Handlers::restore`]
/// (or on drop).
#[derive(Debug, Default)]
pub(crate) struct Handlers {
    /// `(signal number, its handler before)`.
    previous: Vec<(Py<PyAny>, Py<PyAny>)>,
    watchdog: Arc<Watchdog>,
}

impl Handlers {
    /// Puts an [`OnSignal`] with `grace` in place of every SIGINT or SIGTERM
    /// handler that is `signal.default_int_handler`, when called on the main
    /// thread; else changes nothing. Starts the count at 0.
    ///
    /// # Errors
    /// What the `signal` module raises (not expected).
    pub(crate) fn install(py: Python<'_>, grace: Duration) -> PyResult<Self> {
        let mut me = Self::default();
        let signal = py.import("signal")?;
        let default = signal.getattr("default_int_handler")?;
        let mut replace = Vec::new();
        for name in ["SIGINT", "SIGTERM"] {
            let number = signal.getattr(name)?;
            let before = signal.call_method1("getsignal", (&number,))?;
            if before.is(&default) {
                replace.push((number, before));
            }
        }
        if replace.is_empty() {
            return Ok(me);
        }
        let handler = OnSignal {
            grace,
            // Only the main thread can set handlers: this one, if it works.
            main: py
                .import("threading")?
                .call_method0("get_ident")?
                .extract()?,
            watchdog: Arc::clone(&me.watchdog),
        };
        let handler = Bound::new(py, handler)?;
        RECEIVED.store(0, Ordering::SeqCst);
        for (number, before) in replace {
            match signal.call_method1("signal", (&number, &handler)) {
                Ok(_) => me.previous.push((number.unbind(), before.unbind())),
                // Not the main thread of the main interpreter (the only
                // one that runs handlers).
                Err(e) if e.is_instance_of::<PyValueError>(py) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(me)
    }

    /// Calls the watchdog off and puts the replaced handlers back. A run
    /// that ended without an error after a signal raises `KeyboardInterrupt`
    /// now (the signal asked for it; one answer or a `shutdown()` came
    /// first).
    ///
    /// # Errors
    /// `result`'s error, else `KeyboardInterrupt` as above, else what
    /// `signal.signal` raises.
    pub(crate) fn restore(mut self, py: Python<'_>, result: PyResult<()>) -> PyResult<()> {
        let installed = !self.previous.is_empty();
        self.watchdog.call_off(py);
        // A signal the watchdog sent just before it was called off goes to
        // the handler it was meant for, not to the one put back.
        let late = if installed {
            py.check_signals()
        } else {
            Ok(())
        };
        let put_back = self.put_back(py);
        match result {
            Err(e) => Err(e),
            Ok(()) if installed && received() > 0 => Err(late
                .err()
                .unwrap_or_else(|| PyKeyboardInterrupt::new_err(()))),
            Ok(()) => late.and(put_back),
        }
    }

    fn put_back(&mut self, py: Python<'_>) -> PyResult<()> {
        let mut result = Ok(());
        for (number, before) in self.previous.drain(..).rev() {
            let done = py
                .import("signal")
                .and_then(|s| s.call_method1("signal", (number, before)));
            if let Err(e) = done {
                result = result.and(Err(e));
            }
        }
        result
    }
}

impl Drop for Handlers {
    /// Calls the watchdog off and puts the handlers back if
    /// [`Handlers::restore`] was not reached (a panic on the way).
    fn drop(&mut self) {
        if !self.previous.is_empty() {
            Python::attach(|py| {
                self.watchdog.call_off(py);
                let _ = self.put_back(py);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, as the counter and the handlers are the process's.
    #[test]
    fn counts_the_first_signal_and_raises_on_the_second() {
        Python::attach(|py| {
            RECEIVED.store(0, Ordering::SeqCst);
            assert!(check(py).is_ok());
            assert!(!hurry(0));
            count().unwrap();
            assert_eq!(received(), 1);
            let err = check(py).unwrap_err();
            assert!(err.is_instance_of::<PyKeyboardInterrupt>(py));
            assert!(!hurry(1) && hurry(0));
            let second = count().unwrap_err();
            assert!(second.is_instance_of::<PyKeyboardInterrupt>(py));
            assert!(hurry(1) && hurry(2));

            // Installed only on the thread that started the interpreter,
            // which a test may or may not run on.
            let signal = py.import("signal").unwrap();
            let sigint = signal.getattr("SIGINT").unwrap();
            let original = signal.call_method1("getsignal", (&sigint,)).unwrap();
            // As in a Python process (the embedded one starts with SIG_DFL).
            let default = signal.getattr("default_int_handler").unwrap();
            let _ = signal.call_method1("signal", (&sigint, &default));
            let before = signal.call_method1("getsignal", (&sigint,)).unwrap();
            let handlers = Handlers::install(py, Duration::from_secs(60)).unwrap();
            let now = signal.call_method1("getsignal", (&sigint,)).unwrap();
            let replaced = !now.is(&before);
            assert_eq!(handlers.previous.is_empty(), !replaced);
            if replaced {
                assert!(before.is(&default));
                assert_eq!(received(), 0);
                // A run that ended normally after a signal raises it now,
                // and the watchdog the signal started is called off.
                now.call1((2, py.None())).unwrap();
                let err = handlers.restore(py, Ok(())).unwrap_err();
                assert!(err.is_instance_of::<PyKeyboardInterrupt>(py));
            } else {
                handlers.restore(py, Ok(())).unwrap();
            }
            let after = signal.call_method1("getsignal", (&sigint,)).unwrap();
            assert!(after.is(&before));
            let _ = signal.call_method1("signal", (&sigint, original));
        });
    }

    #[test]
    fn a_watchdog_called_off_sends_nothing() {
        Python::attach(|py| {
            let watchdog = Arc::new(Watchdog::default());
            // An ident no thread has: were it sent, pthread_kill would fail
            // quietly in the thread; the test is that call_off returns at
            // once instead of after the grace.
            watchdog.start(Duration::from_secs(60), 1, 0);
            let started = Instant::now();
            watchdog.call_off(py);
            assert!(started.elapsed() < Duration::from_secs(30));
            assert!(watchdog.thread.lock().unwrap().is_none());
        });
    }
}
