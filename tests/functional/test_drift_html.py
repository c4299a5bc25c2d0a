"""``drift --format html``: the heatmap as real headless Chromium renders it (DOM and screenshot)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from patcher.releases.render import COLOURS

from ..conftest import RELEASES, cli, make_patchset

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")

RELEASE_SET = (
    "setuptools>=60,<60.1",
    "setuptools==61.0.0",
    "setuptools==82.0.0",
    "pip==10.0.1",
    "pip==22.0",
    "pkg-resources-backport==1.0.1",
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    argv = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    return subprocess.run(argv, capture_output=True, timeout=120, check=True)


class Cells(HTMLParser):
    """The heatmap cells and the page's own report of what the browser drew."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str | None]] = []
        self.external: list[str] = []
        self.rendered: dict[str, str | None] | None = None
        self._in_rendered = False
        self.rendered_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "td" and "cell" in (a.get("class") or ""):
            self.cells.append(a)
        if tag in ("link", "img", "script", "iframe") and (a.get("src") or a.get("href")):
            self.external.append(tag)
        if a.get("id") == "rendered":
            self.rendered, self._in_rendered = a, True

    def handle_endtag(self, tag: str) -> None:
        self._in_rendered = False

    def handle_data(self, data: str) -> None:
        if self._in_rendered:
            self.rendered_text += data


def png_pixels(png: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes) into RGB pixels."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        chunk = png[pos + 8 : pos + 8 + length]
        header = chunk if kind == b"IHDR" else header
        idat += chunk if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    bpp = 4 if colour == 6 else 3
    raw, stride, prev = zlib.decompress(idat), width * bpp, bytearray(width * bpp)
    pixels: list[tuple[int, int, int]] = []
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        pixels += [(line[x * bpp], line[x * bpp + 1], line[x * bpp + 2]) for x in range(width)]
        prev = line
    return width, height, pixels


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def test_heatmap_renders_in_chromium(tmp_path: Path) -> None:
    patches = make_patchset(tmp_path / "patches")
    page = tmp_path / "drift.html"
    code, out, _ = cli(
        "drift",
        *RELEASE_SET,
        "--format",
        "html",
        "--output",
        str(page),
        "--quiet",
        "--patches",
        str(patches),
        "--cache-dir",
        str(RELEASES),
    )
    assert (code, out) == (1, "")  # the backport fails

    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout.decode()
    parsed = Cells()
    parsed.feed(dom)
    assert parsed.external == []  # self-contained: nothing fetched
    releases = 6 + 1 + 1 + 1 + 1 + 1  # 60.0.0 .. 60.0.5, 61.0.0, 82.0.0, pip 10.0.1, pip 22.0, the backport
    assert len(parsed.cells) == releases * 3  # "all patches" + two patches
    assert parsed.rendered is not None and parsed.rendered["data-cells"] == str(releases * 3)
    drawn = json.loads(parsed.rendered_text)
    # the colours the browser computed, per status, as the legend promises
    for status in ("clean", "offset", "absent", "fails"):
        r, g, b = rgb(COLOURS[status])
        assert drawn[status]["colour"] == f"rgb({r}, {g}, {b})", status
    assert drawn["fails"]["cells"] == 2  # the backport: all patches, find-eggs-in-zip
    assert drawn["absent"]["cells"] == 3  # setuptools 82.0.0 in every row
    fails = [c for c in parsed.cells if c["data-status"] == "fails" and c["data-patch"] == "find-eggs-in-zip"]
    (cell,) = fails
    assert cell["data-version"] == "1.0.1"
    assert (cell["title"] or "").startswith(
        "pkg-resources-backport 1.0.1\npkg_resources/__init__.py\nfind-eggs-in-zip: fails\n"
        "find-eggs-in-zip: find-eggs-in-zip/modern: hunk #1: line "
    )
    assert 'data-major="60"' in dom and 'data-major="61"' in dom and 'data-major="82"' in dom

    shot = tmp_path / "drift.png"
    chromium(tmp_path, "--window-size=1000,800", "--hide-scrollbars", f"--screenshot={shot}", page.as_uri())
    width, height, pixels = png_pixels(shot.read_bytes())
    assert (width, height) == (1000, 800)
    seen = set(pixels)
    for status in ("clean", "offset", "absent", "fails"):
        assert rgb(COLOURS[status]) in seen, f"no {status} cell drawn"
    red = sum(1 for p in pixels if p == rgb(COLOURS["fails"]))
    assert red >= 2 * 10 * 10  # two fails cells (12x14 px, less borders) plus the legend swatch
