"""Where a customer's webhook URL may point: http(s) to public addresses only.

A user-supplied URL could aim our servers at themselves, the private network or the cloud's
metadata service (169.254.169.254). The host is resolved when the request is sent, every address
it resolves to must be public, and the connection goes to the address that was checked, so a DNS
answer that changes between check and connect (rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: someone's private net
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 hidden in IPv6


class UnsafeUrl(ValueError):
    """The URL may not be called; the message says why, for the endpoint's owner."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written, without brackets
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def refusal(address: IPAddress) -> str | None:
    """Why an address is off limits, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refusal(address.ipv4_mapped)
        if address in NAT64:
            return refusal(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    checks = [
        ("loopback", address.is_loopback),
        ("link-local (where cloud metadata lives)", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("shared (carrier-grade NAT)", address in SHARED_ADDRESS_SPACE),
        ("private", address.is_private),
        ("reserved", address.is_reserved or not address.is_global),
    ]
    return next((name for name, hit in checks if hit), None)


def parse(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl(f"only http and https URLs are called, not {parts.scheme or 'a URL without a scheme'}")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials in the URL are not allowed")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def resolve(url: str, allow_private: bool = False) -> Target:
    """The URL's addresses, each checked; raises UnsafeUrl. allow_private is for local development."""
    scheme, host, port, path = parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"{host} does not resolve ({exc})") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            why = refusal(ipaddress.ip_address(address.split("%")[0]))
            if why:
                raise UnsafeUrl(f"{host} resolves to {address}, a {why} address")
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=addresses)
