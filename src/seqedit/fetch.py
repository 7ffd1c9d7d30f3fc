"""SSRF-guarded HTTP(S) for user-supplied URLs: reference images and webhook targets.

Every URL we are asked to touch goes through :func:`check_url` first:

* only ``http`` and ``https``;
* the host name is resolved with :func:`socket.getaddrinfo` and the URL is refused if **any** of
  the answers is loopback, private (RFC 1918, ``fc00::/7``), link-local (``169.254/16`` with the
  cloud metadata address, ``fe80::/10``), unspecified, multicast, reserved, shared (``100.64/10``)
  or otherwise not globally routable — every entry of IANA's special-purpose registries
  (``SPECIAL_PURPOSE``, an explicit list) and then ``ipaddress``'s own judgement — including those
  addresses wrapped in IPv6 (``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``);
* internal-looking names (``localhost``, ``metadata.google.internal``, ``*.internal``, ``*.local``…)
  and odd numeric spellings of IPv4 (``2130706433``, ``0177.0.0.1``, ``127.1``, ``0x7f.1``) are
  refused before any resolution;
* ``allow_hosts`` (from settings) lists ``host`` or ``host:port`` entries that skip the address
  rules, for example a local object store.

DNS rebinding: the addresses validated by the check are the only ones we ever connect to. Each hop
of :func:`fetch_bytes` / :func:`post_bytes` uses an httpx transport whose network backend maps the
host name to the pinned, already-validated addresses, so no second resolution happens between the
check and the connect. The URL is left untouched, so the ``Host`` header, TLS SNI and certificate
verification still use the real host name. Redirects are followed by hand and every ``Location`` is
checked (and pinned) again. Proxies from the environment are ignored (``trust_env=False``), since a
proxy would do its own resolution.

Errors are :class:`FetchError` (WaveSpeed code 1402). Their messages name the host and the reason
and never contain the words "HTTP 5", "429", "timeout" or "connection", which some clients read
as "retry me"; ``FetchError.transient`` tells the caller whether trying again could help.

Caveat: ``socket.getaddrinfo`` has no deadline of its own, so a very slow resolver can delay the
check beyond ``connect_timeout``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl
import time
import typing
import zlib
from dataclasses import dataclass

import httpcore
import httpx

from seqedit.errors import SeqeditError

__all__ = ["FetchError", "check_url", "fetch_bytes", "post_bytes"]

FETCH_ERROR_CODE = 1402

_BLOCKED_NAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "ip6-localhost",
        "ip6-loopback",
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "kubernetes.default",
        "kubernetes.default.svc",
    }
)
_BLOCKED_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".svc", ".cluster.local")

# IANA special-purpose address registries (IPv4 and IPv6, as of RFC 9637 / RFC 9780), every entry,
# refused whatever its "globally reachable" flag: no image or webhook receiver lives in them, and
# ``ipaddress.is_global`` misses some (192.0.0.0/24 outside /29, 192.88.99.0/24, 3fff::/20, …).
# Checked before the ``ipaddress`` properties, so the reason names the registry entry.
SPECIAL_PURPOSE: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("0.0.0.0/8", "a 'this network' address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address (cloud metadata lives here)"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol assignment"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.31.196.0/24", "an AS112 address"),
        ("192.52.193.0/24", "an AMT relay address"),
        ("192.88.99.0/24", "a 6to4 relay anycast address"),
        ("192.168.0.0/16", "a private address"),
        ("192.175.48.0/24", "an AS112 delegation address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("::/128", "the unspecified address"),
        ("::1/128", "a loopback address"),
        ("100::/64", "a discard-only address"),
        ("100:0:0:1::/64", "a dummy IPv6 prefix"),
        ("2001::/23", "an IETF protocol assignment"),
        ("2001:db8::/32", "a documentation address"),
        ("2620:4f:8000::/48", "an AS112 delegation address"),
        ("3fff::/20", "a documentation address"),
        ("5f00::/16", "a segment routing (SRv6) address"),
        ("fc00::/7", "a private address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)

# Embedded-IPv4 IPv6 prefixes whose inner address must pass the IPv4 rules.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "seqedit-fetch/0.1"


# Words some clients read as "retry me". Our own wording avoids them; user-supplied parts of a
# message (a host such as "timeout.example" or "3976429000", a limit such as 1429000) could still
# carry one, so in messages about deterministic failures each occurrence gets an invisible
# WORD JOINER (U+2060) after its first character.
_RETRY_WORDS = re.compile(r"HTTP 5|429|timeout|connection", re.IGNORECASE)


def _defang(message: str) -> str:
    return _RETRY_WORDS.sub(lambda m: m.group(0)[0] + "\u2060" + m.group(0)[1:], message)


class FetchError(SeqeditError):
    """A URL could not be fetched (or posted to). ``code`` is always 1402.

    ``message`` names the host and the reason. ``transient`` is True when trying again later could
    succeed (the remote was slow, unreachable or answered 5xx/429), False for refusals by the guard,
    bad URLs, oversize bodies and 4xx answers.
    """

    code = FETCH_ERROR_CODE

    def __init__(self, message: str, *, transient: bool = False) -> None:
        if not transient:
            message = _defang(message)
        super().__init__(message, code=FETCH_ERROR_CODE)
        self.transient = transient

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------------------------
# The check


@dataclass(frozen=True)
class _Target:
    url: httpx.URL
    host: str  # as shown to users (unicode for IDNA names, no brackets)
    conn_host: str  # as httpcore will ask the network backend for it (ASCII)
    port: int
    addresses: tuple[str, ...]  # validated (or allow-listed) addresses, in resolver order


def _fmt_s(seconds: float) -> str:
    return f"{seconds:g} s"


def _address_problem(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why ``ip`` must not be contacted, or None if it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner: ipaddress.IPv4Address | None = ip.ipv4_mapped
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is None and ip.sixtofour is not None:
            inner = ip.sixtofour
        if inner is not None:
            problem = _address_problem(inner)
            if problem:
                return f"{problem} (embeds IPv4 {inner})"
        if ip in _NAT64_LOCAL:
            return "a local-use NAT64 address"
        if ip.teredo is not None:
            return "a Teredo tunnel address"
        if ip.scope_id:
            return "a scoped address"
    for net, why in SPECIAL_PURPOSE:
        if ip.version == net.version and ip in net:
            return why
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives here)"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if getattr(ip, "is_site_local", False):
        return "a site-local address"
    if not ip.is_global:
        return "not a public address"
    return None


def _odd_numeric_ipv4(host: str) -> bool:
    """True for hosts that the C resolver would read as IPv4 but are not a canonical dotted quad."""
    if not re.fullmatch(r"[0-9a-fA-FxX.]+", host) or not re.search(r"[0-9]", host):
        return False
    try:
        packed = socket.inet_aton(host)
    except (OSError, ValueError):
        return False
    return socket.inet_ntoa(packed) != host


def _is_internal_name(name: str) -> bool:
    """Names that only mean something inside a network: blocklisted ones and bare single labels
    (resolved through the local search domains). ``name`` is lower-case without a trailing dot."""
    if name in _BLOCKED_NAMES or name.endswith(_BLOCKED_SUFFIXES):
        return True
    return "." not in name and ":" not in name and not name.isdigit()


def _allowed(host: str, raw_host: str, port: int, allow_hosts: frozenset[str]) -> bool:
    if not allow_hosts:
        return False
    allow = {a.strip().lower() for a in allow_hosts}
    names = {host.lower(), raw_host.lower(), host.lower().rstrip("."), raw_host.lower().rstrip(".")}
    candidates = set(names)
    for n in names:
        candidates.add(f"{n}:{port}")
        if ":" in n:  # IPv6 literal
            candidates.add(f"[{n}]")
            candidates.add(f"[{n}]:{port}")
    return bool(candidates & allow)


def _resolve(conn_host: str, port: int, shown: str) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(conn_host, port, type=socket.SOCK_STREAM)
    except UnicodeError:
        raise FetchError(f"{shown}: the host name is not valid") from None
    except socket.gaierror as exc:
        transient = exc.errno == getattr(socket, "EAI_AGAIN", -3)
        raise FetchError(f"{shown}: the host name does not resolve", transient=transient) from None
    except OSError:
        raise FetchError(f"{shown}: the host name does not resolve", transient=True) from None
    out: list[str] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        addr = str(sockaddr[0])
        if addr not in out:
            out.append(addr)
    if not out:
        raise FetchError(f"{shown}: the host name has no IP address")
    return tuple(out)


def _vet(url: str | httpx.URL, allow_hosts: frozenset[str]) -> _Target:
    shown_url = str(url)[:200]
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError(f"{shown_url!r} is not a valid URL ({exc})") from None
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"{shown_url!r}: only http and https URLs can be fetched, not {scheme or 'a bare path'!r}")
    try:
        conn_host = parsed.raw_host.decode("ascii")
    except UnicodeDecodeError:
        raise FetchError(f"{shown_url!r}: the host name is not valid") from None
    host = parsed.host
    if not conn_host:
        raise FetchError(f"{shown_url!r} has no host")
    port = parsed.port or (443 if scheme == "https" else 80)

    allowed = _allowed(host, conn_host, port, allow_hosts)

    if not allowed:
        name = conn_host.lower().rstrip(".")
        if "%" in name:
            raise FetchError(f"{host} is not allowed: scoped IPv6 addresses are refused")
        if _is_internal_name(name):
            raise FetchError(f"{host} is not allowed: it names an internal host")
        if _odd_numeric_ipv4(name):
            canonical = socket.inet_ntoa(socket.inet_aton(name))
            raise FetchError(f"{host} is not allowed: unusual numeric spelling of the IPv4 address {canonical}")
        literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None
        try:
            literal = ipaddress.ip_address(name)
        except ValueError:
            literal = None
        if literal is not None:
            problem = _address_problem(literal)
            if problem:
                raise FetchError(f"{host} is not allowed: {literal} is {problem}")

    addresses = _resolve(conn_host, port, host)

    if not allowed:
        for addr in addresses:
            try:
                ip = ipaddress.ip_address(addr)
            except ValueError:
                raise FetchError(f"{host} is not allowed: it resolves to an unparseable address {addr!r}") from None
            problem = _address_problem(ip)
            if problem:
                raise FetchError(f"{host} is not allowed: it resolves to {ip}, {problem}")
    return _Target(url=parsed, host=host, conn_host=conn_host, port=port, addresses=addresses)


def check_url(url: str, allow_hosts: frozenset[str] = frozenset()) -> None:
    """Raise :class:`FetchError` unless ``url`` is an http(s) URL whose host resolves only to
    public addresses (or is listed, as ``host`` or ``host:port``, in ``allow_hosts``)."""
    _vet(url, allow_hosts)


# --------------------------------------------------------------------------------------------
# Pinned transport: connect only to the addresses validated by the check


class _PinnedBackend(httpcore.NetworkBackend):
    """Network backend that maps host names to pre-validated addresses and never resolves."""

    def __init__(self, pins: dict[str, tuple[str, ...]]) -> None:
        self._pins = {k.lower(): v for k, v in pins.items()}
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._pins.get(host.lower())
        if not addresses:
            # Never fall back to resolving: that is exactly the rebinding window.
            raise httpcore.ConnectError(f"refusing to contact unvetted host {host!r}")
        last: Exception | None = None
        for addr in addresses:
            try:
                return self._inner.connect_tcp(
                    addr, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:  # try the next validated address
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Any = None
    ) -> httpcore.NetworkStream:  # pragma: no cover
        raise httpcore.ConnectError("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:  # pragma: no cover
        self._inner.sleep(seconds)


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context (certifi roots, no environment overrides), shared by all fetches."""
    return httpx.create_ssl_context(trust_env=False)


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's default transport with a connection pool whose network backend is pinned.

    httpx does not take a network backend as an argument, so the pool is rebuilt here (the
    ``_pool`` attribute is what ``HTTPTransport.handle_request`` uses; tests/test_fetch.py proves
    the pinning, so an httpx change that breaks this is caught).
    """

    def __init__(self, target: _Target) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=2,
            max_keepalive_connections=0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=_PinnedBackend({target.conn_host: target.addresses}),
        )


def _client(target: _Target, connect_timeout: float, read_timeout: float) -> httpx.Client:
    return httpx.Client(
        transport=_PinnedTransport(target),
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout),
        headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"},
    )


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLError):
            return cur
        cur = cur.__cause__ or cur.__context__
    return None


def _network_error(exc: httpx.HTTPError, host: str, connect_timeout: float, read_timeout: float) -> FetchError:
    if isinstance(exc, httpx.ConnectTimeout) or isinstance(exc, httpx.PoolTimeout):
        return FetchError(f"{host} could not be reached within {_fmt_s(connect_timeout)}", transient=True)
    if isinstance(exc, httpx.TimeoutException):
        return FetchError(f"{host} did not answer within {_fmt_s(read_timeout)}", transient=True)
    tls = _tls_failure(exc)
    if tls is not None:
        if isinstance(tls, ssl.SSLCertVerificationError):
            reason = tls.verify_message or "certificate verification failed"
            return FetchError(f"{host}: the TLS certificate was not accepted ({reason})")
        return FetchError(f"{host}: the TLS handshake failed", transient=True)
    if isinstance(exc, httpx.ConnectError):
        return FetchError(f"{host} could not be reached (refused or unreachable)", transient=True)
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.DecodingError)):
        return FetchError(f"{host} sent a malformed answer", transient=True)
    return FetchError(f"{host} could not be read ({type(exc).__name__})", transient=True)


def _status_error(status: int, host: str) -> FetchError:
    transient = status >= 500 or status in (408, 425, 429)
    return FetchError(f"{host} answered with status {status}", transient=transient)


def _content_type(response: httpx.Response) -> str:
    value: str = response.headers.get("content-type", "")
    return value.split(";", 1)[0].strip().lower()


def _read_capped(response: httpx.Response, host: str, max_bytes: int, deadline: float, budget: float) -> bytes:
    """Read the body, never holding more than ``max_bytes`` (+ one network read) of it.

    Compressed bodies are inflated here, bounded, rather than by httpx (whose decoder inflates a
    whole network read at once: 64 kB of gzip can become 64 MB before any check could run).
    """
    encoding = response.headers.get("content-encoding", "").strip().lower()
    decoder: typing.Any = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        decoder = zlib.decompressobj(47)  # zlib or gzip header, detected
    elif encoding not in ("", "identity"):
        raise FetchError(f"{host} sent the body in an unsupported encoding ({encoding[:40]})")

    too_big = f"{host}: the body is larger than the limit of {max_bytes} bytes"
    buf = bytearray()
    try:
        for raw in response.iter_raw():
            if decoder is None:
                buf += raw
            else:
                data = raw
                while data:
                    out = decoder.decompress(data, max_bytes - len(buf) + 1)
                    buf += out
                    if len(buf) > max_bytes or not out:
                        break
                    data = decoder.unconsumed_tail
            if len(buf) > max_bytes:
                raise FetchError(too_big)
            if time.monotonic() > deadline:
                raise FetchError(f"{host} did not finish sending within {_fmt_s(budget)}", transient=True)
        if decoder is not None:
            buf += decoder.flush(max_bytes - len(buf) + 1)
            if len(buf) > max_bytes:
                raise FetchError(too_big)
    except zlib.error:
        raise FetchError(f"{host} sent a corrupt compressed body") from None
    return bytes(buf)


def fetch_bytes(
    url: str,
    *,
    max_bytes: int,
    connect_timeout: float = 5.0,
    read_timeout: float = 20.0,
    max_redirects: int = 3,
    allow_hosts: frozenset[str] = frozenset(),
    total_timeout: float | None = None,
) -> tuple[bytes, str]:
    """GET ``url`` under the SSRF guard and return ``(body, content_type)``.

    ``content_type`` is the bare media type of the final answer, lower-cased (``"image/png"``),
    or ``""`` when the server sent none; callers should sniff the bytes anyway.

    Limits: ``connect_timeout`` per connect, ``read_timeout`` per read, ``total_timeout`` (default
    ``connect_timeout + read_timeout``) for the whole fetch including redirects, so a server that
    drips one byte at a time cannot hold us forever; at most ``max_redirects`` redirects, each
    re-checked; at most ``max_bytes`` of body (a larger ``Content-Length`` is refused before the body
    is read; a body without one is streamed and cut off past the limit).
    """
    if max_bytes < 0 or max_redirects < 0:
        raise ValueError("max_bytes and max_redirects must be >= 0")
    budget = total_timeout if total_timeout is not None else connect_timeout + read_timeout
    deadline = time.monotonic() + budget
    current: str | httpx.URL = url
    for _hop in range(max_redirects + 1):
        target = _vet(current, allow_hosts)
        host = target.host
        if _hop and time.monotonic() > deadline:
            raise FetchError(f"{host} did not finish sending within {_fmt_s(budget)}", transient=True)
        try:
            with _client(target, connect_timeout, read_timeout) as client:
                with client.stream("GET", target.url, headers={"Accept": "image/*, */*;q=0.5"}) as response:
                    status = response.status_code
                    if status in _REDIRECT_STATUSES:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchError(f"{host} answered with redirect status {status} but no location")
                        try:
                            current = target.url.join(location)
                        except (httpx.InvalidURL, ValueError):
                            raise FetchError(f"{host} redirected to an invalid URL") from None
                        continue
                    if not 200 <= status < 300:
                        raise _status_error(status, host)
                    declared = response.headers.get("content-length")
                    if declared is not None:
                        try:
                            n = int(declared.strip())
                        except ValueError:
                            raise FetchError(f"{host} sent an invalid content length") from None
                        if n > max_bytes:
                            raise FetchError(f"{host}: the body is {n} bytes, more than the limit of {max_bytes}")
                    body = _read_capped(response, host, max_bytes, deadline, budget)
                    return body, _content_type(response)
        except httpx.HTTPError as exc:
            raise _network_error(exc, host, connect_timeout, read_timeout) from None
    raise FetchError(f"{target.host}: more than {max_redirects} redirects")


def post_bytes(
    url: str,
    body: bytes,
    *,
    headers: typing.Mapping[str, str] | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 10.0,
    allow_hosts: frozenset[str] = frozenset(),
) -> int:
    """POST ``body`` to ``url`` (a webhook target) under the same guard and pinning; return the status.

    Redirects are not followed (a 3xx is returned as is: the receiver must give the final URL).
    The answer's body is discarded. Raises :class:`FetchError` for a refused URL or a network
    failure; any HTTP status is returned, so the caller decides what counts as delivered.
    """
    target = _vet(url, allow_hosts)
    try:
        with _client(target, connect_timeout, read_timeout) as client:
            with client.stream("POST", target.url, content=body, headers=dict(headers or {})) as response:
                return response.status_code
    except httpx.HTTPError as exc:
        raise _network_error(exc, target.host, connect_timeout, read_timeout) from None
