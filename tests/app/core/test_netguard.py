"""The SSRF guard's address classification and URL checks (no traffic leaves loopback)."""

import ipaddress
import socket

import pytest

from app.contract.errors import InvalidRequest, UrlNotAllowed
from app.core import netguard
from app.core.netguard import HostUnresolved, UrlPolicy, check_url, refusal_reason, split_url


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),  # ULA
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("::ffff:10.0.0.1", "private"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_refusal_reasons(address: str, reason: str | None) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) == reason


def test_only_http_and_https_without_credentials() -> None:
    assert split_url("https://example.org/a.mp3") == ("https", "example.org", 443)
    assert split_url("http://example.org:8080/a") == ("http", "example.org", 8080)
    for bad in (
        "ftp://example.org/a",
        "file:///etc/passwd",
        "http:///nohost",
        "http://user:pw@example.org/",
        "http://example.org:99999/",
    ):
        with pytest.raises(InvalidRequest):
            split_url(bad)


def test_loopback_is_refused_unless_allowed() -> None:
    with pytest.raises(UrlNotAllowed, match="loopback"):
        check_url("http://127.0.0.1:9/x", UrlPolicy())
    with pytest.raises(UrlNotAllowed, match="loopback"):
        check_url("http://[::1]:9/x", UrlPolicy.from_settings(["127.0.0.1/32"], []))
    allowed = UrlPolicy.from_settings(["127.0.0.1/32"], [])
    target = check_url("http://127.0.0.1:9/x", allowed)
    assert (target.host, target.port, str(target.ip)) == ("127.0.0.1", 9, "127.0.0.1")
    with pytest.raises(UrlNotAllowed):
        check_url("http://127.0.0.2:9/x", allowed)


def test_allowed_hosts_by_name() -> None:
    target = check_url("http://localhost:9/x", UrlPolicy.from_settings([], ["LOCALHOST."]))
    assert target.ip.is_loopback


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("fec0::1", "site-local"),
        ("2002:808:808::1", None),  # 6to4 of 8.8.8.8: public
    ],
)
def test_addresses_that_wrap_another_are_judged_by_it(address: str, reason: str | None) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) == reason


def test_refusals_do_not_say_what_a_name_resolved_to() -> None:
    with pytest.raises(UrlNotAllowed) as info:
        check_url("http://localhost:9/x", UrlPolicy())
    assert "127.0.0.1" not in info.value.message and "::1" not in info.value.message
    assert "loopback" not in info.value.message  # the kind of address is a resolution result too
    with pytest.raises(UrlNotAllowed, match="loopback"):  # a literal address says nothing new
        check_url("http://127.0.0.1:9/x", UrlPolicy())


def test_a_name_that_does_not_resolve_is_a_download_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The resolver answers "no such name" here: a real lookup could leave this machine.
    def no_such_name(*_: object, **__: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(netguard.socket, "getaddrinfo", no_such_name)
    with pytest.raises(HostUnresolved) as info:
        check_url("http://no-such-host.invalid/a.mp3", UrlPolicy())
    assert info.value.code == "download_failed"
    assert "no-such-host" not in info.value.message
