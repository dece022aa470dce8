"""Helpers shared by the tests: an HTTP/1.1 client and response parser (`http`), the
`python -m rswsgi.dev` launcher (`devserver`), `eventually` (`waiting`) and the fixture
WSGI apps (`apps`). conftest.py holds only fixtures; tests import from here."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository: the working directory of every server a test starts by its command."""
