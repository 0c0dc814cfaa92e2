"""Sending a signed Standard Webhooks request: to customers' endpoints (notify; only to public
addresses, connecting to the address that was checked) and between our own components (the
dispatcher, to the functions' configured URLs)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import certifi
import requests
import urllib3

from shared.models import Delivery
from shared.net_guard import IPNetwork, Target, UnsafeUrl, resolve
from shared.signing import sign_headers

MAX_ERROR_CHARS = 500


def post_signed(
    session: requests.Session, url: str, secret: str, message_id: str, body: str, timeout: float
) -> Delivery:
    """POST body to url, signed; never raises for network trouble, never follows redirects."""
    headers = sign_headers(secret, message_id, body)
    started = time.monotonic()
    try:
        response = session.post(url, data=body.encode(), headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return Delivery(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS], _ms(started))
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return Delivery(response.status_code, error, _ms(started), response.text[:MAX_ERROR_CHARS])


def post_to_endpoint(
    url: str, secret: str, message_id: str, body: str, timeout: float, allowed: Sequence[IPNetwork] = ()
) -> Delivery:
    """POST to a customer's URL, signed, after resolving it and refusing private addresses; the
    connection goes to the checked address (TLS still verifies the URL's host name)."""
    started = time.monotonic()
    try:
        target = resolve(url, allowed)
    except UnsafeUrl as exc:
        return Delivery(None, f"refused: {exc}"[:MAX_ERROR_CHARS], _ms(started))
    headers = {**sign_headers(secret, message_id, body), "Host": target.host_header, "User-Agent": "vidpipe-webhooks/1"}
    try:
        response = _pool(target, timeout).urlopen(
            "POST",
            target.path,
            body=body.encode(),
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
        )
        text = response.read(MAX_ERROR_CHARS * 4, decode_content=True).decode("utf-8", "replace")
        response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        return Delivery(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS], _ms(started))
    status = response.status
    error = None if 200 <= status < 300 else f"HTTP {status}"
    return Delivery(
        status, error, _ms(started), text[:MAX_ERROR_CHARS], retry_after=response.headers.get("Retry-After")
    )


def _pool(target: Target, timeout: float) -> urllib3.HTTPConnectionPool:
    address = target.addresses[0]
    limits = urllib3.Timeout(total=timeout)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=limits,
            maxsize=1,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
    return urllib3.HTTPConnectionPool(address, target.port, timeout=limits, maxsize=1)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


class EndpointSender:
    """The WebhookSender port: customers' endpoints, public addresses only unless configured."""

    def __init__(self, timeout: float, allowed: Sequence[IPNetwork]) -> None:
        self.timeout = timeout
        self.allowed = allowed

    def send(self, url: str, secret: str, message_id: str, body: str) -> Delivery:
        return post_to_endpoint(url, secret, message_id, body, self.timeout, self.allowed)
