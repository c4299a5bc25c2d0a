"""The sdist of a release, fetched as a file from where pip is configured to look: never prepared.

``pip download`` of an sdist prepares it -- runs its build hooks, i.e. code from the release --
and for old releases it cannot even do that on a new Python. ``drift`` only reads the
``pkg_resources`` source out of the archive, so the file is fetched here, the way pip finds it:

- where: pip's own configuration, as ``python -m pip config list`` reports it (the ``download``
  command's view: ``global``, then ``download``, then ``PIP_*`` variables) -- ``index-url``
  (else the default index of that pip, asked of it), ``extra-index-url``, ``find-links``,
  ``no-index``, ``cert``, ``client-cert``, ``trusted-host``, ``proxy``, ``timeout`` -- plus
  drift's own ``--find-links``/``--no-index``; proxies in the environment apply as for pip;
  credentials in an index URL or in ``~/.netrc`` go to its host;
- which file: as pip's finder, the first link to an sdist of the release, find-links locations
  before index pages (PEP 503 HTML, or PEP 691 JSON when the index offers it), a yanked file
  only when there is no other;
- how: checked against the hash the page gives (``#sha256=`` or the JSON ``hashes``), written to
  a temporary directory and moved into the cache (a local file is copied).
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import functools
import hashlib
import html.parser
import json
import os
import ssl
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from patcher.errors import FetchError, reason
from patcher.releases import workers

__all__ = [
    "SDIST_SUFFIXES",
    "Link",
    "NoSdist",
    "PipSettings",
    "fetch_sdist",
    "find_sdists",
    "pip_settings",
    "sdist_version",
]

#: the archive suffixes of an sdist that drift can read (tar in any compression tarfile knows; zip)
SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip")
#: what pip asks an index for: PEP 691 JSON first, HTML otherwise
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
#: pip's default timeout, in seconds
DEFAULT_TIMEOUT = 15.0
_CHUNK = 1 << 16


class NoSdist(FetchError):
    """No sdist of the release where pip looks (the release may have only wheels elsewhere)."""


def sdist_version(filename: str, project: str) -> Version | None:
    """The version of ``project`` an sdist file name is for, or None when it is not one (as pip
    reads it: the name, canonicalized, then ``-`` and the version)."""
    suffix = next((s for s in SDIST_SUFFIXES if filename.lower().endswith(s)), None)
    if suffix is None:
        return None
    stem = filename[: -len(suffix)]
    for i, char in enumerate(stem):
        if char == "-" and canonicalize_name(stem[:i]) == project:
            try:
                return Version(stem[i + 1 :])
            except InvalidVersion:
                return None
    return None


# --- pip's configuration -----------------------------------------------------------------------


@dataclass(frozen=True)
class PipSettings:
    """Where pip looks for files, and how it reaches them."""

    index_url: str | None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    cert: str | None = None
    client_cert: str | None = None
    trusted_hosts: tuple[str, ...] = ()
    proxy: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def sources(self) -> list[str]:
        """find-links locations first, then the index pages' bases, as pip's finder lists them."""
        indexes = [] if self.no_index else [u for u in (self.index_url, *self.extra_index_urls) if u]
        return [*self.find_links, *indexes]


def _config_list(python: str) -> dict[str, str]:
    """``pip config list`` of ``python``'s pip (``{"global.index-url": ..., ":env:.proxy": ...}``)."""
    try:
        proc = workers.run([python, "-m", "pip", "config", "list", "--disable-pip-version-check"])
    except OSError:
        return {}
    if proc.returncode < 0:  # stopped (Ctrl-C): an answer not to remember
        raise FetchError("pip config list", f"ended by signal {-proc.returncode}")
    values: dict[str, str] = {}
    for line in proc.stdout.splitlines() if proc.returncode == 0 else ():
        key, sep, raw = line.partition("=")
        try:
            value = ast.literal_eval(raw) if sep else None
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, str):
            values[key.strip()] = value
    return values


_DEFAULT_INDEX = """\
try:
    from pip._internal.models.index import PyPI
    print(PyPI.simple_url)
except Exception:
    import re, subprocess, sys
    out = subprocess.run([sys.executable, "-m", "pip", "download", "--help"], capture_output=True, text=True).stdout
    found = re.search(r"--index-url.*?\\(default\\s+(\\S+?)\\)", out, re.S)
    print(found.group(1) if found else "")
"""


def _default_index(python: str) -> str | None:
    """The index that ``python``'s pip uses when none is configured, as that pip says."""
    try:
        proc = workers.run([python, "-c", _DEFAULT_INDEX])
    except OSError:
        return None
    url = proc.stdout.strip()
    return url if proc.returncode == 0 and url.startswith(("http://", "https://", "file:")) else None


def _true(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on", "y", "t")


@functools.lru_cache(maxsize=8)
def _settings(python: str, environment: tuple[tuple[str, str], ...]) -> PipSettings:
    config = _config_list(python)
    env = dict(environment)

    def get(*names: str) -> str | None:
        for name in names:  # PIP_* over the command's section over global, as pip reads them
            variable = "PIP_" + name.upper().replace("-", "_")
            if variable in env:
                return env[variable]
            for section in (":env:", "download", "global"):
                if f"{section}.{name}" in config:
                    return config[f"{section}.{name}"]
        return None

    def many(name: str) -> tuple[str, ...]:
        return tuple((get(name) or "").split())

    try:
        timeout = float(get("timeout", "default-timeout") or DEFAULT_TIMEOUT)
    except ValueError:
        timeout = DEFAULT_TIMEOUT
    return PipSettings(
        index_url=get("index-url", "index_url", "i") or _default_index(python),
        extra_index_urls=many("extra-index-url"),
        find_links=many("find-links"),
        no_index=_true(get("no-index") or ""),
        cert=get("cert"),
        client_cert=get("client-cert"),
        trusted_hosts=many("trusted-host"),
        proxy=get("proxy") or None,
        timeout=timeout,
    )


_SETTINGS_LOCK = threading.Lock()


def pip_settings(python: str = sys.executable) -> PipSettings:
    """What ``python``'s pip is configured with (asked once per process and environment, even
    when several downloads want to know at once)."""
    with _SETTINGS_LOCK:
        return _settings(python, tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PIP_"))))


# --- pages -------------------------------------------------------------------------------------


class Link(NamedTuple):
    """A file a page or directory offers: its URL (no fragment), name, hashes and whether yanked."""

    url: str
    filename: str
    hashes: Mapping[str, str]
    yanked: bool = False


class _Anchors(html.parser.HTMLParser):
    """The ``<a href>`` of a PEP 503 page (with ``data-yanked``), and its ``<base href>``."""

    def __init__(self) -> None:
        super().__init__()
        self.base: str | None = None
        self.anchors: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "base" and found.get("href") and self.base is None:
            self.base = found["href"]
        elif tag == "a" and found.get("href"):
            self.anchors.append((found["href"] or "", "data-yanked" in found))


def _link(url: str, hashes: Mapping[str, str] | None = None, yanked: bool = False) -> Link:
    bare, fragment = urllib.parse.urldefrag(url)
    found = dict(hashes or {})
    name, sep, value = fragment.partition("=")
    if sep and name in hashlib.algorithms_guaranteed:
        found.setdefault(name, value)
    filename = urllib.parse.unquote(urllib.parse.urlsplit(bare).path.rsplit("/", 1)[-1])
    return Link(bare, filename, found, yanked)


def _parse_html(text: str, url: str) -> list[Link]:
    parser = _Anchors()
    parser.feed(text)
    base = urllib.parse.urljoin(url, parser.base) if parser.base else url
    return [_link(urllib.parse.urljoin(base, href), None, yanked) for href, yanked in parser.anchors]


def _parse_json(text: str, url: str) -> list[Link]:
    data = json.loads(text)
    links = []
    for entry in data.get("files", []) if isinstance(data, dict) else []:
        if isinstance(entry, dict) and isinstance(entry.get("url"), str):
            hashes = entry.get("hashes") if isinstance(entry.get("hashes"), dict) else {}
            links.append(_link(urllib.parse.urljoin(url, entry["url"]), hashes, bool(entry.get("yanked"))))
    return links


def _local_path(location: str) -> str | None:
    """The local path of a find-links entry or ``file:`` URL; None for a remote URL."""
    scheme = urllib.parse.urlsplit(location).scheme
    if scheme == "file":
        return urllib.request.url2pathname(urllib.parse.urlsplit(location).path)
    if scheme in ("http", "https"):
        return None
    return os.path.abspath(os.path.expanduser(location))


class _Client:
    """urllib with pip's certificate, client certificate, trusted hosts, proxy, timeout and
    credentials (in the configured URLs, else ``~/.netrc``)."""

    def __init__(self, settings: PipSettings) -> None:
        self.settings = settings
        self.credentials: dict[str, tuple[str, str]] = {}
        for url in (settings.index_url or "", *settings.extra_index_urls, *settings.find_links):
            parts = urllib.parse.urlsplit(url)
            if parts.username is not None and parts.hostname:
                user, password = urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
                self.credentials[self._netloc(url)] = (user, password)

    @staticmethod
    def _netloc(url: str) -> str:
        return urllib.parse.urlsplit(url).netloc.rpartition("@")[2].lower()

    def _trusted(self, url: str) -> bool:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        return any(t.lower() in (host, self._netloc(url)) for t in self.settings.trusted_hosts)

    def _context(self, url: str) -> ssl.SSLContext:
        cert = self.settings.cert
        if cert and os.path.isdir(cert):
            context = ssl.create_default_context(capath=cert)
        else:
            context = ssl.create_default_context(cafile=cert or None)
        if self.settings.client_cert:
            context.load_cert_chain(self.settings.client_cert)
        if self._trusted(url):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _auth(self, url: str) -> str | None:
        found = self.credentials.get(self._netloc(url))
        if found is None:
            try:
                import netrc

                entry = netrc.netrc().authenticators(urllib.parse.urlsplit(url).hostname or "")
            except (OSError, netrc.NetrcParseError):
                entry = None
            if entry is not None:
                found = (entry[0], entry[2] or "")
        if found is None:
            return None
        return "Basic " + base64.b64encode(f"{found[0]}:{found[1]}".encode()).decode("ascii")

    def open(self, url: str, accept: str | None = None) -> IO[bytes]:
        parts = urllib.parse.urlsplit(url)
        bare = urllib.parse.urlunsplit(parts._replace(netloc=self._netloc(url)))
        request = urllib.request.Request(bare)
        if accept:
            request.add_header("Accept", accept)
        auth = self._auth(url)
        if auth:
            request.add_header("Authorization", auth)
        handlers: list[urllib.request.BaseHandler] = []
        if parts.scheme == "https":
            handlers.append(urllib.request.HTTPSHandler(context=self._context(url)))
        if self.settings.proxy:
            handlers.append(urllib.request.ProxyHandler({"http": self.settings.proxy, "https": self.settings.proxy}))
        response: IO[bytes] = urllib.request.build_opener(*handlers).open(request, timeout=self.settings.timeout)
        return response

    def page(self, url: str) -> list[Link]:
        """The links of a PEP 503/691 page or find-links page; [] when there is none."""
        try:
            with self.open(url, ACCEPT) as response:
                kind = response.headers.get("Content-Type", "")  # type: ignore[attr-defined]
                final = response.geturl()  # type: ignore[attr-defined]
                text = response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise
        return _parse_json(text, final) if kind.startswith(JSON_TYPE) else _parse_html(text, final)


def _directory_links(path: str) -> list[Link]:
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return []
    return [_link(urllib.parse.urljoin("file:", urllib.request.pathname2url(os.path.join(path, n)))) for n in names]


def _project_page(index: str, project: str) -> str:
    page = urllib.parse.urljoin(index.rstrip("/") + "/", f"{project}/")
    local = _local_path(page) if page.startswith("file:") else None
    return urllib.parse.urljoin(page, "index.html") if local is not None else page


def _links(client: _Client, location: str, project: str, is_index: bool) -> list[Link]:
    """The links one location offers for ``project``: an index's project page, or a find-links
    directory, file or page."""
    if is_index:
        page = _project_page(location, project)
        local = _local_path(page) if page.startswith("file:") else None
        if local is not None:
            try:
                with open(local, encoding="utf-8", errors="replace") as f:
                    return _parse_html(f.read(), page)
            except OSError:
                return []
        return client.page(page)
    local = _local_path(location)
    if local is None:
        return client.page(location)
    if os.path.isdir(local):
        return _directory_links(local)
    return [_link(urllib.parse.urljoin("file:", urllib.request.pathname2url(local)))] if os.path.isfile(local) else []


def find_sdists(project: str, version: Version, settings: PipSettings, client: _Client | None = None) -> list[Link]:
    """Every link to an sdist of ``project`` ``version``, in the order pip's finder would take them
    (find-links, then indexes; yanked ones last). A location that cannot be read is skipped
    unless none can: then its error is raised."""
    client = client or _Client(settings)
    found: list[Link] = []
    problems: list[str] = []
    indexes = set(settings.sources()) - set(settings.find_links)
    for location in settings.sources():
        try:
            links = _links(client, location, project, location in indexes)
        except (OSError, ValueError, ssl.SSLError) as exc:
            problems.append(f"{_redact(location)}: {_why(exc)}")
            continue
        found.extend(link for link in links if sdist_version(link.filename, project) == version)
    if not found and problems:
        raise FetchError(f"{project} {version}", "; ".join(problems))
    return sorted(found, key=lambda link: link.yanked)


# --- downloading -------------------------------------------------------------------------------


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) if parts.netloc else url


def _why(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return reason(exc)


def _copy(source: IO[bytes], target: IO[bytes], hashers: Iterable[Any]) -> None:
    """Copy in chunks, feeding each hasher (``hashlib`` objects) on the way."""
    hashers = list(hashers)
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        target.write(chunk)
        for h in hashers:
            h.update(chunk)


def _download(link: Link, directory: str, client: _Client, label: str) -> str:
    """``link`` into ``directory`` (through a temporary directory there), its hashes checked."""
    name = link.filename
    if not name or name != os.path.basename(name) or name.startswith(".") or "\0" in name:
        raise FetchError(label, f"refusing the file name {name!r} from {_redact(link.url)}")
    hashers = {algo: hashlib.new(algo) for algo in link.hashes if algo in hashlib.algorithms_guaranteed}
    with workers.scratch_dir(directory) as scratch:
        temporary = os.path.join(scratch, name)
        try:
            local = _local_path(link.url) if link.url.startswith("file:") else None
            with open(local, "rb") if local is not None else client.open(link.url) as source:
                with open(temporary, "wb") as target:
                    _copy(source, target, hashers.values())
        except (OSError, ValueError, ssl.SSLError) as exc:
            raise FetchError(label, f"cannot download {_redact(link.url)}: {_why(exc)}") from None
        for algo, hasher in hashers.items():
            if hasher.hexdigest() != link.hashes[algo].lower():
                raise FetchError(
                    label,
                    f"{name}: {algo} {hasher.hexdigest()} does not match the {link.hashes[algo]} the index gives",
                )
        target_path = os.path.join(directory, name)
        try:
            os.replace(temporary, target_path)
        except OSError as exc:
            raise FetchError(label, f"{target_path}: {reason(exc)}") from None
    return target_path


def fetch_sdist(
    project: str,
    version: Version,
    directory: str,
    *,
    find_links: Sequence[str] = (),
    no_index: bool = False,
    python: str = sys.executable,
) -> str:
    """The sdist of ``project`` ``version`` as a file in ``directory``: found where ``python``'s pip
    would look (and in ``find_links``; only there with ``no_index``), downloaded and checked,
    never built. Raises :class:`FetchError` when there is none or it cannot be had."""
    label = f"{project} {version}"
    configured = pip_settings(python)
    settings = dataclasses.replace(
        configured,
        find_links=(*find_links, *configured.find_links),
        no_index=configured.no_index or no_index,
    )
    client = _Client(settings)
    links = find_sdists(project, version, settings, client)
    if not links:
        where = ", ".join(_redact(s) for s in settings.sources()) or "nowhere (no index, no find-links)"
        raise NoSdist(label, f"no sdist of it in {where}")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise FetchError(label, f"{directory}: {reason(exc)}") from None
    return _download(links[0], directory, client, label)
