"""The SSRF guard on client-given webhook URLs, with fake resolvers instead of DNS."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import httpx
import pytest
from pydantic import ValidationError

from sorajobs import url_guard
from sorajobs.config import Settings
from sorajobs.logic.delivery import delivery_request
from sorajobs.url_guard import (
    WebhookUrlRefused,
    check_delivery_address,
    check_webhook_url,
    resolve_host,
)

PUBLIC = "93.184.216.34"


class FakeResolver:
    """Answers from a table and records what it was asked; unknown hosts do not resolve."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}
        self.asked: list[str] = []

    def __call__(self, host: str) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.table:
            raise WebhookUrlRefused(f"webhook_url host {host} does not resolve")
        return self.table[host]


def public_dns() -> FakeResolver:
    return FakeResolver({"example.com": [PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"]})


def refusal(url: str, resolve: FakeResolver | None = None, **options: bool) -> str:
    with pytest.raises(WebhookUrlRefused) as caught:
        check_webhook_url(url, resolve=resolve or public_dns(), **options)
    return str(caught.value)


# Refused


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "https://169.254.169.254/latest",
        "http://10.0.0.1/",
        "https://10.0.0.1/",
        "http://localhost/",
        "https://localhost/",
        "https://foo.localhost/",
        "https://user:pw@example.com/",
        "ftp://example.com",
        "https://[::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://[fd00:ec2::254]/",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://127.1/",
        "https://017700000001/",
        "https://127.0.0.1/",
        "https://192.168.1.1/",
        "https://[fe80::1]/",
        "https://224.0.0.1/",
        "https://240.0.0.1/",
        "https://192.0.2.1/",
        "https://[2002:a00:1::1]/",
        "https://[64:ff9b::a00:1]/",
        "https://localhost./",
        "https://metadata.google.internal/",
        "https://printer.local/",
        "https://user@example.com/",
        "https://:pw@example.com/",
        "https://example.com\\@10.0.0.1/",
        "https://exa mple.com/",
        "https://example.com/\n",
        "https://example.com/\x00",
        "https://exämple.com/",
        "https://example.com:99999/",
        "https://example.com:0/",
        "https://example.com:port/",
        "https:///path-only",
        "https://[v1.future]/",
        "https://exa%6dple.com/",
        "example.com/hook",
        "https://example.com/" + "a" * 2048,
    ],
)
def test_refused(url):
    with pytest.raises(WebhookUrlRefused):
        check_webhook_url(url, resolve=public_dns())


def test_a_host_with_one_private_address_among_public_ones_is_refused():
    resolve = FakeResolver({"mixed.example.com": [PUBLIC, "10.1.2.3"]})

    assert refusal("https://mixed.example.com/", resolve) == (
        "webhook_url host mixed.example.com resolves to a private address (10.1.2.3)"
    )


def test_a_host_that_does_not_resolve_is_refused():
    assert "does not resolve" in refusal("https://nowhere.example.org/")


def test_a_host_that_resolves_to_nothing_is_refused():
    assert "does not resolve" in refusal("https://empty.example.com/", FakeResolver({"empty.example.com": []}))


def test_a_resolver_answer_that_is_not_an_address_is_refused():
    resolve = FakeResolver({"odd.example.com": ["not-an-ip"]})

    assert "invalid address" in refusal("https://odd.example.com/", resolve)


def test_a_host_resolving_to_the_metadata_address_names_it():
    resolve = FakeResolver({"evil.example.com": ["169.254.169.254"]})

    assert refusal("https://evil.example.com/", resolve) == (
        "webhook_url host evil.example.com resolves to the cloud metadata address (169.254.169.254)"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/", "webhook_url must use https"),
        ("ftp://example.com", "webhook_url must use https"),
        ("https://user:pw@example.com/", "webhook_url must not contain credentials"),
        ("https://10.0.0.1/", "webhook_url host 10.0.0.1 is a private address"),
        ("https://169.254.169.254/latest", "webhook_url host 169.254.169.254 is the cloud metadata address"),
        ("https://[fd00:ec2::254]/", "webhook_url host fd00:ec2::254 is the cloud metadata address"),
        ("https://[::ffff:10.0.0.1]/", "webhook_url host ::ffff:10.0.0.1 is a private address"),
        ("https://[::ffff:169.254.169.254]/", "webhook_url host ::ffff:169.254.169.254 is the cloud metadata address"),
        ("https://[::1]/", "webhook_url host ::1 is a loopback address"),
        ("https://0.0.0.0/", "webhook_url host 0.0.0.0 is an unspecified address"),
        ("https://100.64.0.1/", "webhook_url host 100.64.0.1 is a shared address space (carrier-grade NAT) address"),
        ("https://2130706433/", "webhook_url host 2130706433 is not a valid host"),
        ("https://0x7f000001/", "webhook_url host 0x7f000001 is not a valid host"),
        ("https://localhost/", "webhook_url host localhost is a local name"),
        ("https://foo.localhost/", "webhook_url host foo.localhost is a local name"),
        ("https://example.internal/", "webhook_url host example.internal is a local name"),
        ("https://240.0.0.1/", "webhook_url host 240.0.0.1 is a reserved address"),
        ("https://[fe80::1]/", "webhook_url host fe80::1 is a link-local address"),
        ("example.com/hook", "webhook_url must be an absolute https URL"),
        ("https://example.com:99999/", "webhook_url has an invalid port"),
        ("https://example.com/" + "a" * 2048, "webhook_url must be at most 2048 characters"),
    ],
)
def test_the_message_says_why(url, message):
    assert refusal(url) == message


def test_local_names_are_refused_without_asking_the_resolver():
    resolve = FakeResolver({"foo.localhost": [PUBLIC], "example.internal": [PUBLIC]})

    for url in ["https://foo.localhost/", "https://example.internal/"]:
        with pytest.raises(WebhookUrlRefused, match="local name"):
            check_webhook_url(url, resolve=resolve)
    assert resolve.asked == []


def test_an_ip_literal_is_checked_without_asking_the_resolver():
    resolve = FakeResolver()

    assert check_webhook_url(f"https://{PUBLIC}/", resolve=resolve) == f"https://{PUBLIC}/"
    assert resolve.asked == []


# Accepted


def test_a_public_https_url_is_accepted_as_given():
    assert check_webhook_url("https://example.com/hook", resolve=public_dns()) == "https://example.com/hook"


def test_a_public_ip_literal_with_a_port_is_accepted():
    assert check_webhook_url("https://93.184.216.34:8443/x", resolve=FakeResolver()) == "https://93.184.216.34:8443/x"


def test_a_public_ipv6_literal_is_accepted():
    url = "https://[2606:2800:220:1:248:1893:25c8:1946]/hook"

    assert check_webhook_url(url, resolve=FakeResolver()) == url


@pytest.mark.parametrize(
    "url", ["HTTPS://Example.COM/hook?x=1#frag", "https://example.com:443/hook", "https://example.com./hook"]
)
def test_scheme_and_host_case_a_default_port_and_a_trailing_dot_are_accepted(url):
    resolve = FakeResolver({"example.com": [PUBLIC], "example.com.": [PUBLIC]})

    assert check_webhook_url(url, resolve=resolve) == url


def test_without_the_address_check_a_name_is_not_resolved():
    resolve = FakeResolver()

    assert check_webhook_url("https://hooks.example.net/", resolve=resolve, check_addresses=False)
    assert resolve.asked == []


def test_without_the_address_check_local_names_are_still_refused():
    assert "local name" in refusal("https://localhost/", check_addresses=False)


# Local mode


def test_local_http_to_127_0_0_1_is_accepted_in_local_mode():
    resolve = FakeResolver()

    assert check_webhook_url("http://127.0.0.1:8080/hook", resolve=resolve, allow_local_http=True)
    assert check_webhook_url("http://[::1]:8080/hook", resolve=resolve, allow_local_http=True)
    assert resolve.asked == []


def test_local_http_to_127_0_0_1_is_refused_outside_local_mode():
    assert refusal("http://127.0.0.1:8080/hook") == "webhook_url must use https"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/",
        "http://example.com",
        "http://127.0.0.2/",
        "http://127.1:8080/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://10.0.0.1/",
        "http://user@127.0.0.1/",
    ],
)
def test_local_mode_allows_http_only_to_the_loopback_literal(url):
    with pytest.raises(WebhookUrlRefused):
        check_webhook_url(url, resolve=public_dns(), allow_local_http=True)


def test_local_mode_still_checks_https_urls():
    assert check_webhook_url("https://example.com/hook", resolve=public_dns(), allow_local_http=True)
    assert "private address" in refusal("https://10.0.0.1/", allow_local_http=True)


# At delivery time


def test_the_delivery_check_refuses_a_name_that_now_resolves_privately():
    url = check_webhook_url("https://rebind.example.com/hook", resolve=FakeResolver({"rebind.example.com": [PUBLIC]}))

    with pytest.raises(WebhookUrlRefused, match=r"resolves to a private address \(10\.0\.0\.7\)"):
        check_delivery_address(url, resolve=FakeResolver({"rebind.example.com": ["10.0.0.7"]}))


def test_the_delivery_check_returns_the_addresses_it_checked():
    assert check_delivery_address("https://example.com/hook", resolve=public_dns()) == (
        PUBLIC,
        "2606:2800:220:1:248:1893:25c8:1946",
    )


def test_the_delivery_check_lets_a_local_url_through_only_in_local_mode():
    assert check_delivery_address("http://127.0.0.1:8080/hook", resolve=FakeResolver(), allow_local_http=True) == ()
    with pytest.raises(WebhookUrlRefused, match="loopback"):
        check_delivery_address("http://127.0.0.1:8080/hook", resolve=FakeResolver())


@pytest.mark.parametrize(
    ("url", "address", "connects_to", "host"),
    [
        ("https://hooks.example.com/sora?x=1", PUBLIC, "https://93.184.216.34/sora?x=1", "hooks.example.com"),
        (
            "https://hooks.example.com:8443/sora",
            "2606:2800:220:1::1",
            "https://[2606:2800:220:1::1]:8443/sora",
            "hooks.example.com:8443",
        ),
    ],
)
def test_a_delivery_connects_to_the_checked_address_and_names_the_urls_host(url, address, connects_to, host):
    with httpx.Client(timeout=15) as client:
        request = delivery_request(client, url, content=b"{}", headers={}, connect_to=address)

    assert str(request.url) == connects_to
    assert request.headers["host"] == host
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.extensions["timeout"]["connect"] == 15
    assert request.headers["connection"] == "close"  # never pooled for a request to another name at this IP


def test_a_delivery_without_a_checked_address_goes_to_the_url_as_given():
    with httpx.Client() as client:
        request = delivery_request(client, "http://127.0.0.1:8080/hook", content=b"{}", headers={}, connect_to=None)

    assert str(request.url) == "http://127.0.0.1:8080/hook"
    assert "sni_hostname" not in request.extensions


# The production resolver, with getaddrinfo replaced


def test_resolve_host_returns_each_address_once(monkeypatch):
    def fake_getaddrinfo(host, port, *, proto):
        assert (host, port, proto) == ("example.com", None, socket.IPPROTO_TCP)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, proto, "", (PUBLIC, 0)),
            (socket.AF_INET6, socket.SOCK_STREAM, proto, "", ("2606:2800:220:1::1", 0, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, proto, "", (PUBLIC, 0)),
        ]

    monkeypatch.setattr(url_guard.socket, "getaddrinfo", fake_getaddrinfo)

    assert resolve_host("example.com") == [PUBLIC, "2606:2800:220:1::1"]


def test_resolve_host_turns_a_lookup_failure_into_a_refusal(monkeypatch):
    def failing_getaddrinfo(host, port, *, proto):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(url_guard.socket, "getaddrinfo", failing_getaddrinfo)

    with pytest.raises(WebhookUrlRefused, match=r"webhook_url host nowhere\.invalid does not resolve"):
        resolve_host("nowhere.invalid")


# The allowlist of hosts (WEBHOOK_URL_ALLOWED_HOSTS)

ALLOWED_HOSTS = ("hooks.example.com", ".example.org")


def allowlist_dns() -> FakeResolver:
    return FakeResolver(
        {
            host: [PUBLIC]
            for host in ("hooks.example.com", "hooks.example.com.", "example.org", "a.example.org", "a.b.example.org")
        }
        | {"other.example.com": [PUBLIC], "evil-example.org": [PUBLIC], "hooks.example.com.evil.net": [PUBLIC]}
        | {"private.example.org": ["10.0.0.5"]}
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/sora",
        "https://HOOKS.Example.com:8443/sora",
        "https://hooks.example.com./sora",
        "https://a.example.org/hook",
        "https://a.b.example.org/hook",
    ],
)
def test_a_host_on_the_allowlist_is_accepted(url):
    assert check_webhook_url(url, resolve=allowlist_dns(), allowed_hosts=ALLOWED_HOSTS) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example.com/sora",  # an exact entry allows only that host
        "https://sub.hooks.example.com/sora",  # ... not its subdomains
        "https://example.org/hook",  # a .suffix entry allows subdomains, not the domain itself
        "https://evil-example.org/hook",
        "https://hooks.example.com.evil.net/",
        "https://93.184.216.34/hook",
        "https://[2606:2800:220:1::1]/hook",
    ],
)
def test_a_host_off_the_allowlist_is_refused_before_any_lookup(url):
    resolve = allowlist_dns()

    message = refusal(url, resolve, allowed_hosts=ALLOWED_HOSTS)

    assert "is not on this deployment's list of allowed webhook hosts" in message
    assert resolve.asked == []


def test_an_empty_allowlist_allows_any_public_host():
    assert check_webhook_url("https://other.example.com/", resolve=allowlist_dns(), allowed_hosts=())


def test_a_listed_host_must_still_resolve_to_public_addresses():
    assert "private address" in refusal("https://private.example.org/", allowlist_dns(), allowed_hosts=ALLOWED_HOSTS)


def test_an_ip_literal_is_allowed_only_when_listed_exactly():
    assert check_webhook_url(f"https://{PUBLIC}/hook", resolve=FakeResolver(), allowed_hosts=(PUBLIC,))
    assert "allowed webhook hosts" in refusal(f"https://{PUBLIC}/hook", allowed_hosts=(".34",))


def test_the_allowlist_also_binds_local_mode():
    assert "allowed webhook hosts" in refusal(
        "http://127.0.0.1:8080/hook", allow_local_http=True, allowed_hosts=ALLOWED_HOSTS
    )
    assert check_webhook_url(
        "http://127.0.0.1:8080/hook", resolve=FakeResolver(), allow_local_http=True, allowed_hosts=("127.0.0.1",)
    )


def test_the_delivery_check_applies_the_allowlist_too():
    url = check_webhook_url("https://other.example.com/hook", resolve=allowlist_dns())

    with pytest.raises(WebhookUrlRefused, match="allowed webhook hosts"):
        check_delivery_address(url, resolve=allowlist_dns(), allowed_hosts=ALLOWED_HOSTS)
    assert check_delivery_address("https://a.example.org/", resolve=allowlist_dns(), allowed_hosts=ALLOWED_HOSTS)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("", ()),
        ("hooks.example.com", ("hooks.example.com",)),
        (" Hooks.Example.com. , .example.org,*.Example.net ,", ("hooks.example.com", ".example.org", ".example.net")),
        ("93.184.216.34,[2606:2800:220:1::1]", ("93.184.216.34", "2606:2800:220:1::1")),
    ],
)
def test_the_setting_is_a_comma_separated_list_of_hosts(raw, parsed):
    settings = Settings.from_env({"JOBS_TABLE_NAME": "jobs", "WEBHOOK_URL_ALLOWED_HOSTS": raw})

    assert settings.webhook_url_allowed_hosts == parsed


@pytest.mark.parametrize("raw", ["https://hooks.example.com", "hooks.example.com/path", "*", ".", "a..b", "host name"])
def test_the_setting_refuses_entries_that_are_not_hosts(raw):
    with pytest.raises(ValidationError, match="WEBHOOK_URL_ALLOWED_HOSTS"):
        Settings.from_env({"JOBS_TABLE_NAME": "jobs", "WEBHOOK_URL_ALLOWED_HOSTS": raw})
