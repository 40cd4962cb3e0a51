"""Markdown to HTML in which no value can become markup.

The documents carry text a requester typed (a justification, a reason) and text NetBox or a
role returned. The templates escape every value, and this converter is the second wall:
Python-Markdown passes raw HTML through by default, so ``<script>`` or
``<link rel="attachment" href="file:///…">`` in the Markdown would reach the HTML and the PDF
renderer. Here raw HTML is read as text, and a link or image whose address is not a plain web
or mail link is made inert (``[x](javascript:…)``, ``![](file:///…)``, ``data:``).
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

import markdown
from markdown.extensions import Extension
from markdown.postprocessors import Postprocessor
from markdown.treeprocessors import Treeprocessor

__all__ = ["safe_href", "safe_src", "to_html"]

# Links a reader may follow from a printed document; everything else (javascript:, file:,
# data:, a relative path that would resolve next to the renderer's files) is dropped.
_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# Browsers and WeasyPrint ignore ASCII whitespace and control characters inside a URL, so
# "java\tscript:" is "javascript:" to them: strip them before reading the scheme.
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f]")


def _plain(url: str) -> str:
    # Python-Markdown writes an entity such as "&#58;" back unescaped into the attribute,
    # where the HTML parser decodes it: judge the URL as the parser will see it.
    return _IGNORED_IN_URL.sub("", html.unescape(url))


def safe_href(url: str) -> bool:
    """Whether a link target may stay: a fragment, or an http, https or mailto address."""
    plain = _plain(url)
    if plain.startswith("#"):
        return True
    try:
        parts = urlsplit(plain)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return False
    return parts.scheme.lower() in _LINK_SCHEMES and (parts.scheme.lower() == "mailto" or bool(parts.netloc))


def safe_src(url: str) -> bool:
    """Whether an image source may stay: only a relative path below the paperwork assets.

    An absolute address (any scheme, ``//host``, ``/path``) would make the PDF renderer, or
    the reader's browser, fetch it; the renderer's fetcher refuses the rest again.
    """
    plain = _plain(url).replace("\\", "/")
    try:
        parts = urlsplit(plain)
    except ValueError:
        return False
    segments = parts.path.split("/")
    return bool(plain) and not parts.scheme and not parts.netloc and not plain.startswith("/") and ".." not in segments


class _InertLinks(Treeprocessor):  # type: ignore[misc]  # Python-Markdown ships no types
    """Drop every href/src that :func:`safe_href`/:func:`safe_src` refuses; the text stays."""

    def run(self, root: Any) -> None:
        for element in root.iter():
            href = element.get("href")
            if href is not None and not safe_href(href):
                del element.attrib["href"]
            src = element.get("src")
            if src is not None and not safe_src(src):
                del element.attrib["src"]


class _LayoutClasses(Treeprocessor):  # type: ignore[misc]
    """Mark the tables whose header row is empty (``| | |``) as label/value layout, not data.

    The letter head (Nomor / Sifat / Lampiran / Hal) and the requester box are written that way;
    the stylesheet prints them without borders or a header. The class comes from the table's
    shape, which the templates fix, never from a value.
    """

    def run(self, root: Any) -> None:
        for table in root.iter("table"):
            heads = list(table.iter("th"))
            if heads and not any((th.text or "").strip() or len(th) for th in heads):
                table.set("class", "kv")


# In paperwork Markdown "&amp;", "&lt;" and "&gt;" always mean "&", "<" and ">": the templates
# escape every value that way. Python-Markdown escapes code once more ("&amp;lt;"), which
# would print "&lt;" inside a diff; one level is taken back inside <code>. Every tag in the
# output is Python-Markdown's own (raw HTML is text here), so the <code> found are genuine.
_CODE = re.compile(r"(<code[^>]*>)(.*?)(</code>)", re.DOTALL)
_TWICE_ESCAPED = re.compile(r"&amp;(amp|lt|gt);")


class _CodeAsWritten(Postprocessor):  # type: ignore[misc]
    def run(self, text: str) -> str:
        return _CODE.sub(lambda m: m[1] + _TWICE_ESCAPED.sub(r"&\1;", m[2]) + m[3], text)


class _NoRawHtml(Extension):  # type: ignore[misc]
    """Read raw HTML as text, and make unsafe link and image addresses inert."""

    def extendMarkdown(self, md: Any) -> None:  # noqa: N802  (Python-Markdown's hook name)
        md.preprocessors.deregister("html_block")  # block-level <div>, <script>, <link>…
        md.inlinePatterns.deregister("html")  # inline <img>, <a href=…>, comments
        # Last of all (after "unescape" at 0): attributes are final when they are judged.
        md.treeprocessors.register(_InertLinks(md), "inert_links", -10)
        md.treeprocessors.register(_LayoutClasses(md), "layout_classes", -11)
        md.postprocessors.register(_CodeAsWritten(md), "code_as_written", 0)  # after raw_html puts code back


def to_html(md_text: str) -> str:
    """The HTML body of a paperwork Markdown text: tables and fenced code, no raw HTML."""
    return str(markdown.markdown(md_text, extensions=["tables", "fenced_code", _NoRawHtml()]))
