"""The outbound URL policy: where a vendor client may send a tenant's credentials.

One policy for every vendor, applied three times:

1. when a tenant admin connects an integration (``check_url`` with ``resolve=True``),
2. when a client is built and before each request (``check_url``: scheme,
   userinfo, host spelling, literal addresses, the vendor's known hosts), and
3. when a connection is opened (``guarded_transport``): the host is resolved,
   *every* address it resolves to is checked, and the socket is opened to a
   checked address, so a DNS answer that changed since (rebinding) cannot
   point a request at an internal service. TLS still verifies the host name.

The rules: ``https`` only; no userinfo (``user:password@``); no host whose
address is loopback, private, link-local, multicast, unspecified, reserved
or otherwise not globally routable, including IPv4-mapped/-compatible,
6to4, Teredo and NAT64 spellings of such addresses; IPv4 only in canonical
dotted-quad form (``2852039166``, ``0xa9.0xfe.0xa9.0xfe``, ``0251.0376.0251.0376``
and ``169.254.43518`` all mean 169.254.169.254 to a C resolver and are
refused). A vendor declares its known hosts (:class:`HostRules`); another
host is refused unless the vendor is self-hosted (any public host) or the
tenant's connection explicitly allows a custom host.

Sandbox mode (``PATCHBAY_SANDBOX``, off by default) additionally allows
loopback hosts, over http too, for the fake vendors in ``sandbox/``. It
allows nothing else: a private or link-local address stays refused.

Redirects are never followed by the clients (httpx's default), so a vendor
answer cannot move a request to another host either.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> every address the host resolves to.
Resolver = Callable[[str, int], Sequence[str]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LOOPBACK_NAMES = ("localhost",)
# Query parameter names whose values are credentials (scrubbed from URLs in errors).
_SECRET_PARAM = re.compile(
    r"(secret|token|password|passwd|pwd|api[_-]?key|apikey|key|sig|signature|code|auth|"
    r"credential|session)",
    re.IGNORECASE,
)
REDACTED = "[REDACTED]"


class OutboundURLRefused(ValueError):
    """A URL the policy refuses. The message never quotes userinfo."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.message = message
        self.url = url  # redacted


@dataclass(frozen=True)
class HostRules:
    """Which hosts a vendor's API lives on.

    ``known``: exact host names, or ``*.suffix`` for any subdomain of ``suffix``.
    ``self_hosted``: every customer runs their own server (Tactical RMM), so
    any public host is fine. ``custom_hosts``: whether a tenant's connection
    may name a host outside ``known`` when it says so explicitly
    (``allow_custom_host``); False for hosts a vendor never varies (Microsoft).
    """

    known: tuple[str, ...] = ()
    self_hosted: bool = False
    custom_hosts: bool = True

    def matches(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for pattern in self.known:
            pattern = pattern.lower()
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                    return True
            elif host == pattern:
                return True
        return False


ANY_PUBLIC_HOST = HostRules(self_hosted=True)


def redact_url(url: str | httpx.URL) -> str:
    """``url`` without userinfo and with credential-looking query values replaced.

    For error details and log lines. Unparseable input is reduced to a marker.
    """
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, REDACTED if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="[]"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _legacy_ipv4(host: str) -> bool:
    """True when a C resolver would read ``host`` as an IPv4 address (any spelling)."""
    if not re.fullmatch(r"[0-9a-fx.]+", host) or not re.search(r"[0-9]", host):
        return False
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    found: list[ipaddress.IPv4Address] = []
    if addr.ipv4_mapped is not None:
        found.append(addr.ipv4_mapped)
    if addr.sixtofour is not None:
        found.append(addr.sixtofour)
    if addr.teredo is not None:
        found.extend(addr.teredo)
    packed = int(addr)
    if addr in _NAT64 or addr in _NAT64_LOCAL:
        found.append(ipaddress.IPv4Address(packed & 0xFFFFFFFF))
    if packed >> 32 == 0 and packed > 1:  # deprecated IPv4-compatible ::a.b.c.d
        found.append(ipaddress.IPv4Address(packed & 0xFFFFFFFF))
    return found


def address_problem(addr: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why ``addr`` may not receive credentials, or None when it may."""
    inner: list[IPAddress] = []
    if isinstance(addr, ipaddress.IPv6Address):
        inner.extend(_embedded_ipv4(addr))
        if addr.scope_id:
            return "a scoped (link-local) IPv6 address"
    for candidate in (addr, *inner):
        if candidate.is_loopback:
            if allow_loopback and candidate is addr:
                continue
            return "a loopback address" + ("" if candidate is addr else f" ({candidate})")
        for label, flag in (
            ("an unspecified address", candidate.is_unspecified),
            ("a link-local address", candidate.is_link_local),
            ("a multicast address", candidate.is_multicast),
            ("a private address", candidate.is_private),
            ("a reserved address", candidate.is_reserved),
            (
                "a site-local address",
                isinstance(candidate, ipaddress.IPv6Address) and candidate.is_site_local,
            ),
            ("an address that is not publicly routable", not candidate.is_global),
        ):
            if flag:
                return label + ("" if candidate is addr else f" ({candidate})")
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (TCP), via the system resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class OutboundPolicy:
    """Where one vendor connection may send requests (see the module docstring)."""

    rules: HostRules = field(default_factory=HostRules)
    allow_custom_host: bool = False
    sandbox: bool = False
    resolver: Resolver = system_resolver

    def _is_loopback_host(self, host: str) -> bool:
        if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def check_url(self, url: str | httpx.URL, *, resolve: bool = False) -> httpx.URL:
        """The parsed URL if the policy allows it, else ``OutboundURLRefused``.

        ``resolve``: also resolve the host and check every address (connect
        time; at request time the guarded transport does this per connection).
        """

        def shown() -> str:
            # What a refusal shows of the URL: worked out only for a refusal (a
            # request's URL is checked on every vendor request).
            return redact_url(url)

        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(str(url).strip())
        except httpx.InvalidURL:
            raise OutboundURLRefused(f"{shown()} is not a valid URL", url=shown()) from None
        if parsed.userinfo:
            raise OutboundURLRefused(
                f"{shown()}: a URL may not carry a user name or password (store credentials "
                "as secrets)",
                url=shown(),
            )
        host = parsed.raw_host.decode("ascii").lower().rstrip(".")
        if not host:
            raise OutboundURLRefused(f"{shown()} has no host", url=shown())
        loopback = self._is_loopback_host(host)
        if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback and self.sandbox):
            raise OutboundURLRefused(
                f"{shown()}: only https URLs are allowed"
                + (" (http only to loopback in sandbox mode)" if parsed.scheme == "http" else ""),
                url=shown(),
            )
        literal = self._literal(host, shown)
        if literal is not None:
            problem = address_problem(literal, allow_loopback=self.sandbox)
            if problem:
                raise OutboundURLRefused(f"{shown()}: {host} is {problem}", url=shown())
        elif loopback:
            if not self.sandbox:
                raise OutboundURLRefused(f"{shown()}: {host} is a loopback host", url=shown())
        elif not self._hostname_ok(host):
            raise OutboundURLRefused(f"{shown()}: {host!r} is not a valid host name", url=shown())
        if not (loopback and self.sandbox):
            self._check_host_rules(host, literal is not None, shown)
        if resolve and literal is None and not (loopback and self.sandbox):
            self.check_resolved(host, parsed.port or 443, shown=shown())
        return parsed

    def _literal(self, host: str, shown: Callable[[], str]) -> IPAddress | None:
        try:
            return ipaddress.ip_address(host)
        except ValueError:
            pass
        if _legacy_ipv4(host):
            raise OutboundURLRefused(
                f"{shown()}: {host} is an IPv4 address in a non-canonical spelling", url=shown()
            )
        return None

    @staticmethod
    def _hostname_ok(host: str) -> bool:
        labels = host.split(".")
        return (
            len(host) <= 253
            and len(labels) >= 2
            and all(_HOST_LABEL.match(label) for label in labels)
            and not labels[-1].isdigit()
        )

    def _check_host_rules(self, host: str, literal: bool, shown: Callable[[], str]) -> None:
        if self.rules.matches(host) or self.rules.self_hosted:
            return
        if self.rules.custom_hosts and self.allow_custom_host:
            return
        known = ", ".join(self.rules.known) or "none"
        if not self.rules.custom_hosts:
            raise OutboundURLRefused(
                f"{shown()}: {host} is not one of this vendor's hosts ({known})", url=shown()
            )
        raise OutboundURLRefused(
            f"{shown()}: {host} is not one of this vendor's known hosts ({known}); "
            "connect with --allow-custom-host to use another"
            + (" (an IP address rarely matches the vendor's certificate)" if literal else ""),
            url=shown(),
        )

    def check_resolved(self, host: str, port: int, *, shown: str | None = None) -> list[str]:
        """Resolve ``host`` and return its addresses if every one is allowed."""
        shown = shown or host
        try:
            addresses = list(self.resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise OutboundURLRefused(
                f"{shown}: {host} does not resolve ({type(exc).__name__})", url=shown
            ) from None
        if not addresses:
            raise OutboundURLRefused(f"{shown}: {host} does not resolve", url=shown)
        for raw in addresses:
            try:
                addr = ipaddress.ip_address(raw)
            except ValueError:
                raise OutboundURLRefused(
                    f"{shown}: {host} resolved to an unusable address", url=shown
                ) from None
            problem = address_problem(addr, allow_loopback=self.sandbox)
            if problem:
                raise OutboundURLRefused(
                    f"{shown}: {host} resolves to {problem} ({addr})", url=shown
                )
        return addresses

    def guarded_transport(self, **kwargs: typing.Any) -> GuardedTransport:
        """A network transport that opens sockets only to addresses this policy allows."""
        return GuardedTransport(self, **kwargs)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport whose sockets go only where the policy allows.

    ``before_write``: called once, right before the next request's first
    bytes are written to the socket (after any connect and TLS handshake), so
    a rate limiter can count the request when it really leaves.
    """

    def __init__(self, policy: OutboundPolicy, **kwargs: typing.Any) -> None:
        kwargs.setdefault("verify", tls_context())
        super().__init__(**kwargs)
        pool = self._pool  # httpx keeps the httpcore pool here (no public hook)
        backend = getattr(pool, "_network_backend", None)
        if backend is None:  # pragma: no cover - an httpx/httpcore layout change
            raise RuntimeError("cannot guard this httpx version's connection pool")
        self._backend = _GuardedBackend(backend, policy)
        pool._network_backend = self._backend

    @property
    def before_write(self) -> Callable[[], None] | None:
        return self._backend.before_write

    @before_write.setter
    def before_write(self, hook: Callable[[], None] | None) -> None:
        self._backend.before_write = hook


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's one verifying TLS context (httpx's defaults: certifi, or SSL_CERT_FILE).

    Building one loads the whole CA bundle, tens of milliseconds of CPU; every
    step builds a client, so a context per client was most of a throttled
    step's cost. An ``SSLContext`` is safe to share between threads.
    """
    return httpx.create_ssl_context()


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks every address, then connects to a checked one (no re-resolution)."""

    def __init__(self, inner: httpcore.NetworkBackend, policy: OutboundPolicy) -> None:
        self._inner = inner
        self._policy = policy
        self.before_write: Callable[[], None] | None = None

    def take_before_write(self) -> None:
        hook, self.before_write = self.before_write, None
        if hook is not None:
            hook()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bare = host.strip("[]")
        try:
            literal: IPAddress | None = ipaddress.ip_address(bare)
        except ValueError:
            literal = None
        if literal is not None:
            problem = address_problem(literal, allow_loopback=self._policy.sandbox)
            if problem:
                raise OutboundURLRefused(f"{bare} is {problem}", url=bare)
            addresses = [bare]
        else:
            if _legacy_ipv4(bare):
                raise OutboundURLRefused(f"{bare} is a non-canonical IPv4 spelling", url=bare)
            addresses = self._policy.check_resolved(bare, port)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
            else:
                return _HookedStream(stream, self)
        assert last is not None
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise OutboundURLRefused("unix sockets are not an outbound destination", url=path)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _HookedStream(httpcore.NetworkStream):
    """A connection that calls its backend's ``before_write`` hook before writing."""

    def __init__(self, inner: httpcore.NetworkStream, backend: _GuardedBackend) -> None:
        self._inner = inner
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._backend.take_before_write()
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # The handshake's own bytes do not go through write(): the hook waits
        # for the request's.
        return _HookedStream(
            self._inner.start_tls(ssl_context, server_hostname, timeout), self._backend
        )

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)
