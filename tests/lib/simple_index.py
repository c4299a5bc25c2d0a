"""A real package index on 127.0.0.1 for the tests: PEP 503 pages (and PEP 691 JSON when asked
for) listing real files with their ``#sha256=``, served by ``http.server`` in a thread.

Files can be answered slowly (``delay``), to catch a run while it downloads.
"""

from __future__ import annotations

import hashlib
import html
import http.server
import json
import os
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

__all__ = ["SimpleIndex", "environ", "pip_env", "project_of", "sha256_of"]

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def project_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return canonicalize_name(parse_wheel_filename(filename)[0])
    return canonicalize_name(parse_sdist_filename(filename)[0])


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class SimpleIndex:
    """``root/simple/<project>/`` (``index.html`` and ``index.json``) and ``root/files/<file>``.

    ``hashes`` overrides the digest listed for a file (to list a wrong one); ``formats`` says
    which pages exist (``html``, ``json``).
    """

    def __init__(
        self,
        root: Path,
        files: Iterable[Path],
        *,
        delay: float = 0.0,
        hashes: dict[str, str] | None = None,
        formats: tuple[str, ...] = ("html", "json"),
    ) -> None:
        self.root = root
        self.delay = delay
        self.requests: list[str] = []
        self._stop = threading.Event()
        (root / "files").mkdir(parents=True, exist_ok=True)
        by_project: dict[str, list[tuple[str, str]]] = {}
        for path in files:
            target = root / "files" / path.name
            shutil.copy(path, target)
            digest = (hashes or {}).get(path.name) or sha256_of(target)
            by_project.setdefault(project_of(path.name), []).append((path.name, digest))
        for project, entries in by_project.items():
            page = root / "simple" / project
            page.mkdir(parents=True, exist_ok=True)
            if "html" in formats:
                links = "".join(
                    f'<a href="../../files/{html.escape(name)}#sha256={digest}">{html.escape(name)}</a><br>\n'
                    for name, digest in entries
                )
                (page / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")
            if "json" in formats:
                data: dict[str, Any] = {
                    "meta": {"api-version": "1.0"},
                    "name": project,
                    "files": [
                        {"filename": name, "url": f"../../files/{name}", "hashes": {"sha256": digest}}
                        for name, digest in entries
                    ],
                }
                (page / "index.json").write_text(json.dumps(data))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/simple/"

    def _handler(self) -> type[http.server.SimpleHTTPRequestHandler]:
        index = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(index.root), **kwargs)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                index.requests.append(self.path)
                if self.path.startswith("/files/") and index.delay:
                    deadline = time.monotonic() + index.delay
                    while time.monotonic() < deadline and not index._stop.is_set():
                        time.sleep(0.05)
                page = os.path.join(str(index.root), self.path.lstrip("/").split("?")[0], "index.json")
                if JSON_TYPE in self.headers.get("Accept", "") and os.path.isfile(page):
                    body = Path(page).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", JSON_TYPE)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                super().do_GET()

        return Handler

    def __enter__(self) -> SimpleIndex:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


def pip_env(index_url: str | None) -> dict[str, str | None]:
    """The environment changes that make pip use ``index_url`` alone (no config file, no extra
    index, no find-links); None means unset."""
    changes: dict[str, str | None] = {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": index_url}
    for name in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_TRUSTED_HOST"):
        changes[name] = None
    return changes


def environ(changes: dict[str, str | None], base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with ``changes`` made."""
    env = dict(os.environ if base is None else base)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env
