"""The dev loop as a user sees it in headless Chromium (tests/cdp.py, real time): under
`python -m rswsgi.dev app:app --reload`, editing a Flask template reloads the open page by
itself with the new text, and breaking the module shows its traceback in the page, which
comes back by itself once the module is fixed; a default Django project's admin is styled
(its static files served as runserver serves them); `--debug` on a Flask app shows rswsgi's
page for an exception in a view. Skipped when no `chromium` is installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cdp import Chromium
from support.devserver import Reloader
from support.waiting import eventually
from test_devloop import FLASK_APP, PAGE, start_django_project

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no 'chromium' binary (apt-get install chromium; CI installs it)"
)


#: How many of the page's stylesheets loaded with rules (a 404 gives none).
STYLESHEETS_LOADED = """
[...document.styleSheets].filter(s => { try { return s.cssRules.length > 0 } catch (e) {
  return false } }).length
"""


def text_of(browser: Chromium, tab: str) -> str | None:
    try:
        value = browser.evaluate(tab, "document.body ? document.body.innerText : ''", 5)
    except Exception:  # noqa: BLE001 - a page in the middle of reloading
        return None
    return value if isinstance(value, str) else None


def test_the_page_follows_template_edits_and_a_broken_module(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    (tmp_path / "app.py").write_text(FLASK_APP)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text(PAGE.format("<p>first text</p>"))
    (tmp_path / ".env").write_text("")
    r = Reloader(tmp_path, "app:app")
    try:
        eventually(lambda: r.body() and "Watching: " in r.stdout() or None, "the server")
        with Chromium(CHROMIUM, tmp_path / "profile") as browser:
            tab = browser.new_tab()
            browser.send("Page.navigate", {"url": f"http://127.0.0.1:{r.port}/"}, tab, 10)
            eventually(lambda: "first text" in (text_of(browser, tab) or "") or None, "page")
            marker = "window.__stale = 1; 1"
            browser.evaluate(tab, marker, 5)
            (tmp_path / "templates" / "index.html").write_text(PAGE.format("<p>second</p>"))
            eventually(lambda: "second" in (text_of(browser, tab) or "") or None, "new text")
            # A reload, not a patch: the old page's state is gone.
            assert browser.evaluate(tab, "typeof window.__stale", 5) == "undefined"

            (tmp_path / "app.py").write_text(FLASK_APP + "\nraise KeyError('DATABASE_URL')\n")
            eventually(
                lambda: "DATABASE_URL" in (text_of(browser, tab) or "") or None, "the traceback"
            )
            assert "app.py" in (text_of(browser, tab) or "")
            (tmp_path / "app.py").write_text(FLASK_APP)
            eventually(lambda: "second" in (text_of(browser, tab) or "") or None, "the app back")
    finally:
        r.close()


def test_the_django_admin_is_styled_under_reload(tmp_path: Path) -> None:
    """`runserver`'s look: the admin's stylesheets come from `STATIC_URL`, so its header
    has its colour and the login form its layout."""
    assert CHROMIUM is not None
    (tmp_path / "site").mkdir()
    django_project = start_django_project(tmp_path / "site")
    r = Reloader(django_project, "mysite.wsgi")
    try:
        eventually(lambda: r.body("/admin/login/") or None, "the admin")
        with Chromium(CHROMIUM, tmp_path / "profile") as browser:
            tab = browser.new_tab()
            url = f"http://127.0.0.1:{r.port}/admin/login/"
            browser.send("Page.navigate", {"url": url}, tab, 10)
            eventually(
                lambda: "Django administration" in (text_of(browser, tab) or "") or None,
                "the login page",
            )
            loaded = eventually(
                lambda: browser.evaluate(tab, STYLESHEETS_LOADED, 5) or None, "the stylesheets"
            )
            assert loaded >= 2, loaded
            header = browser.evaluate(
                tab, "getComputedStyle(document.getElementById('header')).backgroundColor", 5
            )
            # Unstyled, the header is transparent; Django's base.css paints it.
            assert header not in ("rgba(0, 0, 0, 0)", "transparent"), header
    finally:
        r.close()


def test_debug_on_a_flask_app_shows_rswsgi_s_page(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    (tmp_path / "app.py").write_text(FLASK_APP)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text(PAGE.format("<p>ok</p>"))
    (tmp_path / ".env").write_text("")
    r = Reloader(tmp_path, "app:app", "--debug")
    try:
        eventually(lambda: r.body() or None, "the server")
        with Chromium(CHROMIUM, tmp_path / "profile") as browser:
            tab = browser.new_tab()
            browser.send("Page.navigate", {"url": f"http://127.0.0.1:{r.port}/boom"}, tab, 10)
            text = eventually(
                lambda: (t := text_of(browser, tab)) and "a view <failed>" in t and t or None,
                "the debug page",
            )
            assert "RuntimeError" in text
            assert 'raise RuntimeError("a view <failed>")' in text
            assert "Internal Server Error" not in text  # not Flask's own page
    finally:
        r.close()
