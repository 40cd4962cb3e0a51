"""HTML to PDF with WeasyPrint, fetching nothing but the paperwork's own assets.

WeasyPrint fetches whatever the HTML names, through one ``url_fetcher``: stylesheets
(``<link rel=stylesheet>``, ``@import``), images (``<img>``, ``<object>``, ``<embed>``, SVG
``<image>``, CSS ``url()``), ``@font-face`` sources, and the files it embeds for
``<link rel=attachment>`` and ``<a rel=attachment>``. A document goes to the requester, so a
``file:///`` there would hand them the NetBox token or an official's private key, and an
``http://127.0.0.1`` would let them reach the runner's loopback services. The fetcher below
answers only for files inside ``templates/assets``; attachments are dropped before the PDF is
written, whatever fetched them.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

__all__ = ["ASSETS", "AssetsOnlyFetcher", "FetchRefusedError", "html_to_pdf"]

ASSETS = Path(__file__).parent / "templates" / "assets"
_LOG = logging.getLogger(__name__)


class FetchRefusedError(ValueError):
    """The PDF renderer was asked for something outside the paperwork assets."""


class AssetsOnlyFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no types
    """A WeasyPrint fetcher that reads only regular files below ``root``.

    Everything else is refused: other schemes (http, https, ftp, data, …), ``file://`` on
    another host (urllib would try FTP), paths outside ``root`` after resolving ``..`` and
    symlinks. WeasyPrint logs a refusal as a warning and renders without the resource; every
    refused URL is also kept in ``refused`` so a caller or a test can see what was asked.
    """

    def __init__(self, root: Path = ASSETS) -> None:
        super().__init__(allowed_protocols=("file",), allow_redirects=False, fail_on_errors=False)
        self.root = root.resolve()
        self.refused: list[str] = []

    def path_for(self, url: str) -> Path:
        """The asset file ``url`` names, or FetchRefusedError saying why not."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise self._refuse(url, "malformed URL") from exc
        if parts.scheme.lower() != "file":
            raise self._refuse(url, f"scheme {parts.scheme or '(none)'!r} is not fetched")
        if parts.netloc not in ("", "localhost"):
            raise self._refuse(url, f"file URL on host {parts.netloc!r}")
        path = Path(unquote(parts.path)).resolve()  # follows symlinks and "..": judge the real file
        if not path.is_relative_to(self.root) or not path.is_file():
            raise self._refuse(url, f"not a file inside {self.root}")
        return path

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        """Serve an asset file; refuse anything else (see the class)."""
        path = self.path_for(url)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(path.as_uri(), body=path.read_bytes(), headers={"Content-Type": mime})

    def _refuse(self, url: str, why: str) -> FetchRefusedError:
        self.refused.append(url)
        _LOG.warning("paperwork PDF: refused to fetch %.200r: %s", url, why)
        return FetchRefusedError(f"{why}: {url[:200]}")


def html_to_pdf(html: str, target: Path, fetcher: AssetsOnlyFetcher | None = None) -> AssetsOnlyFetcher:
    """Write ``html`` as a PDF to ``target``; return the fetcher (its ``refused`` list)."""
    fetcher = fetcher or AssetsOnlyFetcher()
    # Relative addresses resolve inside the assets folder, the only place the fetcher reads.
    document = HTML(string=html, base_url=str(ASSETS) + "/", url_fetcher=fetcher).render()
    # A document never embeds files: drop what <link rel=attachment> declared and the
    # attachment annotations of <a rel=attachment> (both are fetched only at write time).
    document.metadata.attachments = []
    for page in document.pages:
        page.links = [link for link in page.links if link[0] != "attachment"]
    document.write_pdf(str(target))
    return fetcher
