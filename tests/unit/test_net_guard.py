"""Which webhook URLs may be called: schemes, credentials, and every kind of non-public address."""

import ipaddress

import pytest

from shared.net_guard import LOOPBACK, Target, UnsafeUrl, parse, refusal, resolve


@pytest.mark.parametrize(
    "address, why",
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.10", "private"),
        ("169.254.169.254", "link-local (where cloud metadata lives)"),
        ("fe80::1", "link-local (where cloud metadata lives)"),
        ("fd00:ec2::254", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "link-local (where cloud metadata lives)"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "private"),
        ("192.0.2.1", "private"),
        ("2001:db8::1", "private"),
    ],
)
def test_non_public_addresses_are_refused(address, why):
    assert refusal(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url, message",
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        ("example.com/hook", "only http and https"),
        ("http://user:pw@example.com/", "credentials"),
        ("http:///nohost", "no host"),
        ("http://example.com:99999/", "not a valid URL"),
    ],
)
def test_urls_that_are_not_plain_http_are_refused(url, message):
    with pytest.raises(UnsafeUrl, match=message):
        parse(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/hook",
        "http://127.0.0.1/",
        "http://[::1]:9000/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_local_and_metadata_hosts_are_refused_however_spelled(url):
    with pytest.raises(UnsafeUrl, match="resolves to"):
        resolve(url)


def test_local_development_may_allow_private_addresses():
    target = resolve("http://127.0.0.1:8080/hooks?x=1", allowed=LOOPBACK)
    assert target == Target("http", "127.0.0.1", 8080, "/hooks?x=1", ("127.0.0.1",))
    assert target.host_header == "127.0.0.1:8080"
    assert Target("https", "::1", 443, "/", ("::1",)).host_header == "[::1]"


def test_a_name_with_any_private_address_is_refused(monkeypatch):
    answers = [(2, 1, 6, "", ("93.184.216.34", 443)), (2, 1, 6, "", ("10.0.0.7", 443))]
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: answers)
    with pytest.raises(UnsafeUrl, match=r"resolves to 10\.0\.0\.7, a private address"):
        resolve("https://hooks.example.com/in")


def test_a_name_that_does_not_resolve_is_refused():
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        resolve("https://no-such-host.invalid/")


@pytest.mark.parametrize(
    "address, why",
    [
        ("2002:a9fe:a9fe::", "link-local (where cloud metadata lives)"),  # 6to4 around 169.254.169.254
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private"),  # Teredo: client 192.0.2.45 (its bits inverted)
        ("fec0::1", "site-local"),
    ],
)
def test_private_ipv4_wrapped_in_ipv6_and_site_local_are_refused(address, why):
    assert refusal(ipaddress.ip_address(address)) == why


def test_cloud_metadata_is_refused_whatever_a_local_stack_allows():
    everything = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://224.0.0.1/"):
        with pytest.raises(UnsafeUrl):
            resolve(url, allowed=everything)


def test_a_local_stack_allows_only_the_networks_it_names():
    with pytest.raises(UnsafeUrl, match=r"10\.0\.0\.1, a private address"):
        resolve("http://10.0.0.1/", allowed=LOOPBACK)
    assert resolve("http://10.0.0.1/", allowed=[ipaddress.ip_network("10.0.0.0/8")]).addresses == ("10.0.0.1",)


def test_a_resolver_that_never_answers_holds_no_send(monkeypatch):
    import time

    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: time.sleep(5) or [])  # answers, too late
    started = time.monotonic()
    with pytest.raises(UnsafeUrl, match="did not resolve within"):
        resolve("http://slow.example/", within=0.2)
    assert time.monotonic() - started < 2
