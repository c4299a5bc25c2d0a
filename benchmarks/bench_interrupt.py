#!/usr/bin/env python3
"""Benchmark how long ``drift`` takes to stop on Ctrl-C (SIGINT) while it downloads (goal: < 1 s).

A local index on 127.0.0.1 (``http.server`` in a thread) lists one real wheel and sends it
slowly, spread over ``--delay`` seconds. ``python -m patcher drift`` fetches it into a fresh
cache; as soon as the index has been asked for the file (a pip process is downloading it),
SIGINT is sent and the time until the process has exited is taken with ``time.monotonic``.
Each run also says whether temporary directories (``.download-*``) were left in the cache::

    python3 benchmarks/bench_interrupt.py [--wheel FILE] [--runs N] [--delay S] [--source DIR]

``--wheel`` defaults to the newest setuptools wheel in ``~/.cache/pkgres-patcher-tests/wheels``
(the tests fill it); ``--source DIR`` runs the patcher found in DIR (e.g. an export of an older
commit: ``git archive HEAD~3 | tar -x -C DIR``) instead of the installed one.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import http.server
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

WHEELS = os.path.expanduser("~/.cache/pkgres-patcher-tests/wheels")


def serve(root: str, wheel: str, delay: float) -> tuple[http.server.ThreadingHTTPServer, list[str]]:
    """A PEP 503 index of ``wheel`` in ``root``; the file is sent in pieces over ``delay`` seconds."""
    name = os.path.basename(wheel)
    project = name.split("-")[0].replace("_", "-").lower()
    os.makedirs(os.path.join(root, "simple", project))
    os.makedirs(os.path.join(root, "files"))
    shutil.copy(wheel, os.path.join(root, "files", name))
    with open(wheel, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(root, "simple", project, "index.html"), "w") as page:
        page.write(f'<html><body><a href="../../files/{name}#sha256={digest}">{name}</a></body></html>\n')
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=root, **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            requests.append(self.path)
            if not self.path.startswith("/files/"):
                super().do_GET()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            pieces = 100
            step = -(-len(data) // pieces)
            try:
                for start in range(0, len(data), step):
                    self.wfile.write(data[start : start + step])
                    self.wfile.flush()
                    time.sleep(delay / pieces)
            except OSError:
                pass  # the client went away

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, requests


def one_run(url: str, requests: list[str], wheel: str, source: str | None) -> tuple[float, list[str]]:
    """Seconds from SIGINT to exit, and what was left in the cache."""
    name = os.path.basename(wheel)
    version = name.split("-")[1]
    project = name.split("-")[0].replace("_", "-").lower()
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=url)
    for variable in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        env.pop(variable, None)
    if source:
        env["PYTHONPATH"] = source + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as cache:
        del requests[:]
        argv = [sys.executable, "-m", "patcher", "drift", f"{project}=={version}", "--quiet", "--cache-dir", cache]
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cache)
        while f"/files/{name}" not in requests:
            if proc.poll() is not None:
                raise SystemExit(f"drift ended before downloading (exit {proc.returncode})")
            time.sleep(0.01)
        time.sleep(0.2)  # well into the download
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait()
        elapsed = time.monotonic() - start
        left = [os.path.relpath(p, cache) for p in glob.glob(os.path.join(cache, "**", ".download-*"), recursive=True)]
    return elapsed, left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--wheel", default=None, help="the wheel to serve (default: newest setuptools test wheel)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay", type=float, default=20.0, help="seconds the file takes to send (default 20)")
    parser.add_argument("--source", default=None, help="run the patcher of this directory (PYTHONPATH)")
    args = parser.parse_args()
    wheel = args.wheel or max(glob.glob(os.path.join(WHEELS, "setuptools-*.whl")), default=None, key=os.path.getmtime)
    if wheel is None:
        parser.error(f"no wheel given and none in {WHEELS}")
    with tempfile.TemporaryDirectory() as root:
        server, requests = serve(root, wheel, args.delay)
        url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
        times = []
        for number in range(args.runs):
            elapsed, left = one_run(url, requests, wheel, args.source)
            times.append(elapsed)
            print(f"run {number + 1}: {elapsed:6.3f} s from SIGINT to exit" + (f"; left: {left}" if left else ""))
        server.shutdown()
    print(f"drift SIGINT-to-exit: median {statistics.median(times):.3f} s, max {max(times):.3f} s (goal < 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
