"""SSRF guard for merchant webhook URLs (CONTRACT §3, PATTERNS "Webhook delivery").

Call :func:`vet_url` before *every* delivery attempt (DNS answers change), then connect to the
address it returns — never resolve the name a second time, or a rebinding DNS server can answer
with a public address for the check and a private one for the connection.

Rules:

- the scheme must be ``http`` or ``https`` and there must be a host, else
  ``InvalidRequest(code="url_invalid", param="url")``; whether plain ``http`` is allowed outside
  local development is the caller's policy, not this module's;
- the host (a name or an IP literal, IPv6 in brackets) is resolved with the running loop's
  ``getaddrinfo``; if it does not resolve: ``InvalidRequest(code="url_unresolvable")``
  (transient at delivery time, a client error at registration time — the caller decides);
- unless ``allow_private``, the URL is refused with ``InvalidRequest(code="url_forbidden")`` when
  ANY resolved address is private, loopback, link-local (incl. 169.254.169.254), multicast,
  reserved, unspecified, shared (100.64.0.0/10), in 0.0.0.0/8 or otherwise not globally
  routable, or embeds such an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, 6to4 ``2002::/16``,
  NAT64 ``64:ff9b::/96``, Teredo). IPv4-mapped addresses are unwrapped and treated as the IPv4
  address they carry (and connected to over IPv4).

Connecting to the vetted address while keeping the original Host header and TLS SNI / certificate
check: :func:`pinned_request_args` rewrites the URL host to the IP, sets ``Host`` to the original
host (and port, if not the default) and sets httpcore's ``sni_hostname`` request extension, which
httpx passes to ``ssl`` as ``server_hostname`` (so the certificate is still verified against the
merchant's name)::

    target = await vet_url(endpoint.url, allow_private=settings.webhook_allow_private_urls)
    url, host_headers, extensions = pinned_request_args(target)
    response = await client.post(
        url, content=body, headers={**webhook_headers(...), **host_headers},
        extensions=extensions, follow_redirects=False, timeout=10,
    )

Redirects must not be followed (httpx's default): a redirect target would bypass this check.
The client should also not use environment proxies (``trust_env=False``), since a proxy resolves
the name itself.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from payments_core.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_ALLOWED_SCHEMES = {"http": 80, "https": 443}
_SHARED_V4 = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
_THIS_NETWORK_V4 = ipaddress.IPv4Network("0.0.0.0/8")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215


@dataclass(frozen=True, slots=True)
class VettedTarget:
    """A URL that passed the guard, and the one address to connect to."""

    url: str
    scheme: str
    hostname: str  # ASCII (IDNA-encoded) host as in the URL, without IPv6 brackets
    port: int  # explicit or the scheme's default
    ip: IPAddress  # the vetted address the caller must connect to

    @property
    def default_port(self) -> bool:
        return _ALLOWED_SCHEMES[self.scheme] == self.port


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, param="url", code="url_invalid")


def _parse(url: str) -> tuple[httpx.URL, str, str, int]:
    # Parse with httpx, the same parser that will send the request, so the host we check is the
    # host it connects to.
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise _invalid("url is not a valid URL") from None
    scheme = parsed.scheme.lower()
    if scheme not in _ALLOWED_SCHEMES:
        raise _invalid("url must be an http or https URL")
    try:
        host = parsed.raw_host.decode("ascii")
    except UnicodeDecodeError:
        raise _invalid("url host is not valid") from None
    if not host:
        raise _invalid("url must have a host")
    port = parsed.port if parsed.port is not None else _ALLOWED_SCHEMES[scheme]
    if not 0 < port < 65536:
        raise _invalid("url port is out of range")
    return parsed, scheme, host, port


def _embedded_v4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64_WELL_KNOWN:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _forbidden_v4(address: ipaddress.IPv4Address) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in _SHARED_V4
        or address in _THIS_NETWORK_V4
        or not address.is_global
    )


def is_forbidden_address(address: IPAddress) -> bool:
    """True when a webhook must not be delivered to ``address`` (see the module docstring)."""
    if isinstance(address, ipaddress.IPv4Address):
        return _forbidden_v4(address)
    if address.ipv4_mapped is not None:
        return _forbidden_v4(address.ipv4_mapped)
    if any(_forbidden_v4(v4) for v4 in _embedded_v4(address)):
        return True
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_site_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in _NAT64_LOCAL_USE
        or not address.is_global
    )


def _normalise(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id:
            return ipaddress.IPv6Address(str(address).split("%", 1)[0])
    return address


async def _resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise InvalidRequest(
            "url host does not resolve", param="url", code="url_unresolvable"
        ) from None
    addresses: list[IPAddress] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise InvalidRequest("url host does not resolve", param="url", code="url_unresolvable")
    return addresses


async def vet_url(url: str, *, allow_private: bool) -> VettedTarget:
    """Check ``url`` and resolve its host once; connect to the returned ``ip`` only.

    ``allow_private=True`` (local development) lifts the address rule only; the scheme is always
    checked. Raises ``InvalidRequest`` with code ``url_invalid``, ``url_unresolvable`` or
    ``url_forbidden`` (param ``url``).
    """
    _parsed, scheme, host, port = _parse(url)
    addresses = await _resolve(host, port)
    if not allow_private and any(is_forbidden_address(a) for a in addresses):
        raise InvalidRequest(
            "url resolves to a private, loopback, link-local or reserved address",
            param="url",
            code="url_forbidden",
        )
    return VettedTarget(
        url=url, scheme=scheme, hostname=host, port=port, ip=_normalise(addresses[0])
    )


async def vet_webhook_url(url: str, *, allow_private: bool) -> VettedTarget:
    """`vet_url` plus the platform's policy (CONTRACT §3): outside local development a webhook
    URL must be https. Registration and every delivery attempt both go through here."""
    target = await vet_url(url, allow_private=allow_private)
    if target.scheme != "https" and not allow_private:
        raise InvalidRequest("url must be an https URL", param="url", code="url_invalid")
    return target


def pinned_request_args(target: VettedTarget) -> tuple[str, dict[str, str], dict[str, object]]:
    """``(url, headers, extensions)`` for an httpx request that connects to ``target.ip``.

    The URL's host is replaced with the vetted IP (path, query and port unchanged), ``Host`` keeps
    the original host (with the port when it is not the default) and, for https, the
    ``sni_hostname`` extension makes TLS send the original name as SNI and verify the certificate
    against it. Merge ``headers`` into the request's headers and pass ``extensions`` as is.
    """
    parsed = httpx.URL(target.url)
    pinned = parsed.copy_with(host=str(target.ip))
    host_header = parsed.netloc.decode("ascii")
    extensions: dict[str, object] = {}
    if target.scheme == "https":
        extensions["sni_hostname"] = target.hostname
    return str(pinned), {"Host": host_header}, extensions
