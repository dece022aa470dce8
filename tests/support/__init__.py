"""Helpers shared by the tests: an HTTP/1.1 client and response parser (`http`), the
`python -m rswsgi.dev` launcher (`devserver`), `eventually` (`waiting`) and the fixture
WSGI apps (`apps`). conftest.py holds only fixtures; tests import from here."""

import signal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository: the working directory of every server a test starts by its command."""


def default_sigint() -> None:
    """`preexec_fn` for a child that must see Ctrl-C (SIGINT) as a terminal sends it.

    A non-interactive shell starts a background job (`pytest &`, a CI run in the
    background) with SIGINT ignored, exec keeps SIG_IGN, and CPython installs its
    KeyboardInterrupt handler only over SIG_DFL: without this, the child would never
    see a Ctrl-C the test sends or raises."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
