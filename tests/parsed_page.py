"""An HTML page parsed with the standard library, for checking what a page shows as text
and which tags and attributes it holds (tests/test_debug_page.py, tests/test_browser.py)."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"meta", "link", "br", "img", "input", "hr"}


class Page(HTMLParser):
    """A parsed page: every start tag with its attributes, and the text of every element
    that has a class, by class (`texts['exc-line']`: one string per such element)."""

    def __init__(self, body: bytes) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.texts: dict[str, list[str]] = {}
        self._open: list[tuple[str, list[tuple[str, int]]]] = []
        self.feed(body.decode("utf-8"))
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag in VOID:
            return
        slots = []
        for cls in (dict(attrs).get("class") or "").split():
            self.texts.setdefault(cls, []).append("")
            slots.append((cls, len(self.texts[cls]) - 1))
        self._open.append((tag, slots))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, slots in self._open:
            for cls, i in slots:
                self.texts[cls][i] += data

    def text(self, cls: str) -> list[str]:
        return self.texts.get(cls, [])
