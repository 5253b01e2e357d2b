"""Validation of client-given webhook URLs, so a webhook cannot be aimed at our own network (SSRF).

``check_webhook_url`` runs when a client registers a URL; ``check_delivery_address`` runs again right before
each delivery, because DNS may answer differently by then (rebinding), and the delivery connects to an
address it checked rather than resolving the name again. The resolver is a parameter.

Both take an optional allowlist of hosts (``WEBHOOK_URL_ALLOWED_HOSTS``): when it is not empty, the URL's host
must be one of its entries exactly, or fall under an entry that starts with a dot (".example.org" allows
"hooks.example.org" and "a.b.example.org", not "example.org" itself nor "badexample.org"). The allowlist
narrows the other checks and never replaces them: a listed host must still resolve to public addresses.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from urllib.parse import SplitResult, urlsplit

Resolver = Callable[[str], Sequence[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
LOCAL_HTTP_HOSTS = frozenset({"127.0.0.1", "::1"})
LOCAL_NAME_SUFFIXES = (".localhost", ".internal", ".local")
CLOUD_METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
# IPv6 prefixes that carry an IPv4 address to some gateway: 6to4 and NAT64 (well-known and local-use).
IPV6_TRANSITION_NETWORKS = (
    ipaddress.ip_network("2002::/16"),
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
)

_HOST_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*")
# WHATWG's "ends in a number" rule: such a host is an IPv4 address in some spelling (2130706433, 0x7f000001, 127.1).
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")


class WebhookUrlRefused(ValueError):
    """A webhook URL we will not call; the message says why and is shown to the API client."""


def resolve_host(host: str) -> list[str]:
    """The addresses ``host`` resolves to for TCP, in resolver order without duplicates."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        raise WebhookUrlRefused(f"webhook_url host {host} does not resolve") from error
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _address_problem(address: IPAddress) -> str | None:
    """Why we will not connect to ``address``, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # Judged by the IPv4 address it stands for, the same on every Python version.
        return _address_problem(address.ipv4_mapped)
    if address in CLOUD_METADATA_ADDRESSES:
        return "the cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address in SHARED_ADDRESS_SPACE:
        return "a shared address space (carrier-grade NAT) address"
    if isinstance(address, ipaddress.IPv6Address) and any(address in net for net in IPV6_TRANSITION_NETWORKS):
        return "an IPv6 transition (6to4 or NAT64) address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a globally routable address"
    return None


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check_addresses(host: str, resolve: Resolver) -> tuple[str, ...]:
    """Refuse ``host`` unless it is, or resolves only to, public addresses; return the addresses checked."""
    literal = _ip_literal(host)
    if literal is not None:
        problem = _address_problem(literal)
        if problem is not None:
            raise WebhookUrlRefused(f"webhook_url host {host} is {problem}")
        return (str(literal),)

    addresses = tuple(resolve(host))
    if not addresses:
        raise WebhookUrlRefused(f"webhook_url host {host} does not resolve")
    for text in addresses:
        resolved = _ip_literal(text)
        if resolved is None:
            raise WebhookUrlRefused(f"webhook_url host {host} resolves to an invalid address ({text})")
        problem = _address_problem(resolved)
        if problem is not None:
            raise WebhookUrlRefused(f"webhook_url host {host} resolves to {problem} ({text})")
    return addresses


def _split(url: str) -> tuple[SplitResult, str]:
    """The parsed URL and its host (lowercase, brackets removed), refusing anything malformed."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlRefused(f"webhook_url must be at most {MAX_URL_LENGTH} characters")
    if not url.isascii():
        raise WebhookUrlRefused("webhook_url must be ASCII (use punycode for the host and percent-encoding)")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise WebhookUrlRefused("webhook_url must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise WebhookUrlRefused("webhook_url is not a valid URL") from error
    if not parts.scheme:
        raise WebhookUrlRefused("webhook_url must be an absolute https URL")
    if "@" in parts.netloc:
        raise WebhookUrlRefused("webhook_url must not contain credentials")
    host = parts.hostname
    if not host:
        raise WebhookUrlRefused("webhook_url must have a host")
    try:
        port = parts.port
    except ValueError as error:
        raise WebhookUrlRefused("webhook_url has an invalid port") from error
    if port == 0:
        raise WebhookUrlRefused("webhook_url has an invalid port")
    return parts, host


def host_is_allowed(host: str, allowed_hosts: Sequence[str]) -> bool:
    """Whether ``host`` is on the allowlist (an empty list allows every host); see the module docstring."""
    if not allowed_hosts:
        return True
    name = host.lower().removesuffix(".")
    is_ip = _ip_literal(name) is not None
    for entry in allowed_hosts:
        allowed = entry.lower().removesuffix(".")
        if allowed.startswith("."):
            # Only names have subdomains: a suffix never matches an IP literal ("10.0.0.1" ends in ".1").
            if not is_ip and name.endswith(allowed) and len(name) > len(allowed):
                return True
        elif name == allowed:
            return True
    return False


def _check_allowed_host(host: str, allowed_hosts: Sequence[str]) -> None:
    if not host_is_allowed(host, allowed_hosts):
        raise WebhookUrlRefused(f"webhook_url host {host} is not on this deployment's list of allowed webhook hosts")


def _is_local_http(parts: SplitResult, host: str, allow_local_http: bool) -> bool:
    return allow_local_http and parts.scheme.lower() in {"http", "https"} and host in LOCAL_HTTP_HOSTS


def _check_host_name(host: str) -> None:
    """Refuse names that are not DNS host names or that name this machine or a private network."""
    name = host.removesuffix(".")
    if not _HOST_NAME.fullmatch(name) or len(name) > 253:
        raise WebhookUrlRefused(f"webhook_url host {host} is not a valid host name")
    if _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
        raise WebhookUrlRefused(f"webhook_url host {host} is not a valid host")
    if name == "localhost" or name.endswith(LOCAL_NAME_SUFFIXES):
        raise WebhookUrlRefused(f"webhook_url host {host} is a local name")


def check_webhook_url(
    url: str,
    *,
    resolve: Resolver,
    allow_local_http: bool = False,
    check_addresses: bool = True,
    allowed_hosts: Sequence[str] = (),
) -> str:
    """Return ``url`` if we may deliver webhooks to it, else raise WebhookUrlRefused saying why.

    ``allow_local_http`` (local mode) also accepts the literal hosts 127.0.0.1 and [::1], over http or https,
    without the address check. ``check_addresses=False`` skips the address check (IP literals and DNS) only.
    A non-empty ``allowed_hosts`` refuses every host not on it, local ones included.
    """
    parts, host = _split(url)
    _check_allowed_host(host, allowed_hosts)
    if _is_local_http(parts, host, allow_local_http):
        return url
    if parts.scheme.lower() != "https":
        if allow_local_http:
            raise WebhookUrlRefused("webhook_url must use https (http is allowed only for 127.0.0.1 and [::1])")
        raise WebhookUrlRefused("webhook_url must use https")

    literal = _ip_literal(host)
    if literal is None:
        if parts.netloc.startswith("["):
            raise WebhookUrlRefused(f"webhook_url host {host} is not a valid IPv6 address")
        _check_host_name(host)
    if check_addresses:
        _check_addresses(host, resolve)
    return url


def check_delivery_address(
    url: str, *, resolve: Resolver, allow_local_http: bool = False, allowed_hosts: Sequence[str] = ()
) -> tuple[str, ...]:
    """Re-run the allowlist and address checks on an accepted URL just before delivery (DNS, or the allowlist,
    may have changed since).

    Returns the addresses checked (empty for an allowed local URL), so a caller can connect to exactly those.
    """
    parts, host = _split(url)
    _check_allowed_host(host, allowed_hosts)
    if _is_local_http(parts, host, allow_local_http):
        return ()
    return _check_addresses(host, resolve)
