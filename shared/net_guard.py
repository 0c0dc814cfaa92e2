"""Where a customer's webhook URL may point: http(s) to public addresses only.

A user-supplied URL could aim our servers at themselves, the private network or the cloud's
metadata service (169.254.169.254). The host is resolved when the request is sent, every address
it resolves to must be public, and the connection goes to the address that was checked, so a DNS
answer that changes between check and connect (rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: someone's private net
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 hidden in IPv6
# What a local stack may call on its own machine (VIDPIPE_WEBHOOK_ALLOWED_NETWORKS).
LOOPBACK: tuple[IPNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
# Never called, whatever is allowed: the cloud's metadata service lives on link-local addresses.
NEVER = {"link-local (where cloud metadata lives)", "multicast", "unspecified", "site-local", "reserved"}
RESOLVE_SECONDS = 5.0


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
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:  # ::ffff:a.b.c.d, 2002:AABB:CCDD::, Teredo's client address
            return refusal(embedded)
        if address in NAT64:
            return refusal(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.is_site_local:
            return "site-local"
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


def resolve(url: str, allowed: Sequence[IPNetwork] = (), within: float = RESOLVE_SECONDS) -> Target:
    """The URL's addresses, each checked; raises UnsafeUrl. `allowed` lists the non-public networks
    a local stack may call (its own machine); link-local, multicast and reserved never pass."""
    scheme, host, port, path = parse(url)
    infos = _getaddrinfo(host, port, within)
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        why = refusal(ip)
        if why and (why in NEVER or not any(ip in network for network in allowed)):
            raise UnsafeUrl(f"{host} resolves to {address}, a {why} address")
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=addresses)


def _getaddrinfo(host: str, port: int, within: float) -> list[Any]:
    """Name resolution within `within` seconds: a resolver that never answers holds no send."""
    answer: list[Any] = []
    failure: list[BaseException] = []

    def lookup() -> None:
        try:
            answer.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            failure.append(exc)

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(within)
    if worker.is_alive():
        raise UnsafeUrl(f"{host} did not resolve within {within:g} s")
    if failure or not answer:
        raise UnsafeUrl(f"{host} does not resolve ({failure[0] if failure else 'no address'})")
    return answer
