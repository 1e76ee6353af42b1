"""Reading a rendered report in tests: its headings, images, links and tags."""

from __future__ import annotations

import base64
from html.parser import HTMLParser


class Page(HTMLParser):
    """Headings, images, links and scripts of an HTML document."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.images: list[dict[str, str]] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self._in_heading = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(a)
        if tag == "a":
            self.links.append(a.get("href", ""))
        if tag in ("h1", "h2", "h3"):
            self._in_heading = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3"):
            self._in_heading = False

    def handle_data(self, data):
        if self._in_heading:
            self.headings[-1] += data


def png_of(src: str) -> bytes:
    """The PNG bytes of a data URI, or an AssertionError saying what is wrong."""
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), f"image source is not an embedded PNG: {src[:40]!r}"
    data = base64.b64decode(src.removeprefix(prefix), validate=True)
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "data URI does not hold a PNG"
    return data
