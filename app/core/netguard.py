"""Server-side request forgery guard for the URLs a caller chooses (`audio_url`, later webhooks).

A host is resolved once; if **any** of its addresses is loopback, private (RFC 1918, ULA),
link-local (cloud metadata at 169.254.169.254 included), multicast, unspecified or otherwise not
globally routable, the URL is refused — unless the operator allowed that network or host
(`WHISPER_JOBS_ALLOWED_NETWORKS`, `WHISPER_JOBS_ALLOWED_HOSTS`: internal services are real users).
The connection then goes to the *checked* address (pinned: no second lookup, so DNS rebinding
cannot swap it), while TLS still verifies the original host name. Addresses that carry another
address inside (6to4, Teredo, NAT64, IPv4-mapped) are judged by what they carry, and site-local
IPv6 is refused.

Refusals never say what a name resolved to, nor a host that does not resolve is a policy matter:
that is `download_failed` (`HostUnresolved`), so the guard cannot be used to map internal DNS.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from app.contract.errors import DownloadFailed, InvalidRequest, UrlNotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class HostUnresolved(DownloadFailed):
    """The host name does not resolve: a download failure, not a policy refusal."""


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, when it is only a wrapper around one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.sixtofour is not None:
        return ip.sixtofour  # 2002:7f00:1::/48 routes to 127.0.0.1
    if ip.teredo is not None:
        return ip.teredo[1]  # (server, client): the client is where packets end up
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Why an address must not be fetched, or None for a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return refusal_reason(inner)
        if ip in _SITE_LOCAL:
            return "site-local"
    checks = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private and not ip.is_reserved),
        ("reserved", ip.is_reserved),
        ("not globally routable", not ip.is_global),
    )
    return next((reason for reason, hit in checks if hit), None)


@dataclass(frozen=True)
class UrlPolicy:
    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, networks: list[str], hosts: list[str]) -> UrlPolicy:
        return cls(
            tuple(ipaddress.ip_network(n, strict=False) for n in networks),
            frozenset(h.lower().rstrip(".") for h in hosts),
        )

    def allows(self, host: str, ip: IPAddress) -> bool:
        if host.lower().rstrip(".") in self.allowed_hosts:
            return True
        return any(ip in network for network in self.allowed_networks)


@dataclass(frozen=True)
class Target:
    """A URL whose host was resolved and checked: connect to `ip`, speak to `host`."""

    url: str
    scheme: str
    host: str
    port: int
    ip: IPAddress

    def pinned_url(self) -> str:
        """The same URL with its host replaced by the checked address (no second lookup)."""
        parts = urlsplit(self.url)
        host = f"[{self.ip}]" if isinstance(self.ip, ipaddress.IPv6Address) else str(self.ip)
        return urlunsplit((parts.scheme, f"{host}:{self.port}", parts.path or "/", parts.query, ""))

    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"

    def extensions(self) -> dict[str, str]:
        """httpx request extensions: TLS (SNI and the certificate check) uses the original name."""
        return {"sni_hostname": self.host} if self.scheme == "https" else {}


def receiver_of(url: str) -> str:
    """Who receives a URL's requests, for per-receiver limits: scheme, host and port."""
    try:
        scheme, host, port = split_url(url)
    except InvalidRequest:  # refused when it is used; meanwhile it is a receiver of its own
        return url[:200]
    return f"{scheme}://{host.lower()}:{port}"


def split_url(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise InvalidRequest(f"Not a valid URL: {url!r}.") from e
    if parts.scheme not in ("http", "https"):
        raise InvalidRequest("Only http and https URLs are accepted.")
    if not parts.hostname:
        raise InvalidRequest(f"The URL has no host: {url!r}.")
    if parts.username or parts.password:
        raise InvalidRequest("Credentials in URLs are not accepted.")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def addresses_of(infos: Sequence[tuple[Any, ...]]) -> list[IPAddress]:
    """getaddrinfo's answers -> distinct addresses (scope ids dropped), in their order."""
    return list(
        dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos)
    )


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise HostUnresolved("The URL's host name does not resolve.") from e
    return addresses_of(infos)


def check_addresses(host: str, addresses: list[IPAddress], policy: UrlPolicy) -> None:
    """Refuse if any address is refused, without saying which address the name resolved to."""
    literal = _is_literal(host)
    for ip in addresses:
        reason = refusal_reason(ip)
        if reason is not None and not policy.allows(host, ip):
            what = f"a {reason} address" if literal else "a non-public address"
            raise UrlNotAllowed(
                f"The URL points to {what}; such targets are refused unless the operator allows "
                "them (WHISPER_JOBS_ALLOWED_NETWORKS, WHISPER_JOBS_ALLOWED_HOSTS)."
            )


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_url(url: str, policy: UrlPolicy) -> Target:
    """Resolve once and refuse if any address is refused; the target pins the first address."""
    scheme, host, port = split_url(url)
    addresses = resolve(host, port)
    check_addresses(host, addresses, policy)
    return Target(url=url, scheme=scheme, host=host, port=port, ip=addresses[0])
