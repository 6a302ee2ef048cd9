"""The private-network policy: which addresses outgoing HTTP may reach.

Feeds and webhook URLs come from config files and from feeds themselves (redirects), so a
URL can point at loopback, a private LAN or a cloud metadata service. Unless the user set
`[http] allow_private_networks = true`, only globally routable addresses may be reached.

Responsible for: deciding whether one address is public (`is_public`) and resolving a
host to check every address it resolves to (`check_host`), raising AddressRefused.
Must not: open connections other than DNS resolution, read settings, log, or decide what
a refusal means to the caller (fetch.py turns it into a FetchError, the webhook channel
into a retryable DeliveryError).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from aggregator.errors import AggregatorError

__all__ = ["AddressRefused", "check_host", "is_public"]


class AddressRefused(AggregatorError):
    """A host could not be resolved, or resolves to an address the policy refuses.

    `address` is the refused address, or None when the name did not resolve at all.
    """

    def __init__(self, message: str, address: str | None = None) -> None:
        self.address = address
        super().__init__(message)


def is_public(address: str) -> bool:
    """True if `address` (IPv4 or IPv6, optionally with a %scope) is globally routable.

    Loopback, private, link-local, shared (CGNAT), multicast, reserved and unspecified
    addresses are not public. IPv4 addresses embedded in IPv6 (mapped, 6to4, Teredo) are
    judged by the IPv4 address they carry. Anything that is not an address is not public.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return embedded.is_global and not embedded.is_multicast
    return ip.is_global and not ip.is_multicast


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, if it is one of the embedding forms."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if int(ip) >> 32 == 0 or ip in _NAT64:  # ::a.b.c.d (also :: and ::1), NAT64
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


async def check_host(host: str, port: int) -> None:
    """Resolve `host` and raise AddressRefused unless every address it has is public.

    Checking every address (not just the first) matters: the connection may use any of
    them. The message names the host and the refused address, never a full URL.
    """
    literal = host.strip("[]")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(literal, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise AddressRefused(f"cannot resolve {host}: {reason}") from None
    if not infos:
        raise AddressRefused(f"cannot resolve {host}: no addresses")
    for info in infos:
        address = str(info[4][0])
        if not is_public(address):
            raise AddressRefused(
                f"refused {host}: it resolves to the non-public address {address}"
                " (set [http] allow_private_networks = true to allow it)",
                address,
            )
