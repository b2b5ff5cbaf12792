"""Which network addresses a fetch may reach, decided once per connection on the address actually connected to.

The rule (issue 9): a URL the user gave or configured may point anywhere except a cloud metadata service (a local
fixture server, an intranet wiki); the internal addresses it resolved to become the only internal addresses that
its redirects, or the links of the feed it served, may reach. Anything reached from untrusted content (a redirect
hop, a feed entry) must otherwise resolve to public addresses only. A name is resolved once and the connection goes
to the address that was checked, so a second DNS answer cannot slip in between (DNS rebinding).

"Internal" covers loopback, private (RFC 1918, ULA), link-local, CGNAT (100.64.0.0/10), multicast, reserved and
unspecified addresses, and the same inside IPv6 forms that embed an IPv4 address: IPv4-mapped (::ffff:a.b.c.d),
IPv4-compatible (::a.b.c.d), 6to4 (2002::/16), Teredo (2001::/32) and NAT64 (64:ff9b::/96, 64:ff9b:1::/48).
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance-metadata services: never fetched, whoever asks (they hand out credentials).
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean...
    "169.254.170.2",  # AWS ECS task metadata
    "169.254.169.253",  # AWS DNS / Time Sync neighbours on the same link
    "fd00:ec2::254",  # AWS IMDS over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "192.0.0.192",  # Oracle Cloud (legacy)
))
METADATA_NAMES = frozenset({
    "metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal",
    "metadata.azure.internal", "metadata.tencentyun.com",
})
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class BlockedAddress(Exception):
    """The URL's host resolves to an address this fetch may not reach; the message is one line for the user."""


@dataclass(frozen=True)
class Target:
    """Where one request connects: the host name (for Host, SNI and certificates) and the checked addresses."""

    host: str
    addresses: tuple[str, ...]  # in resolver order; the connection tries them in turn and nothing else


def _same_as_ipv4(ip: IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for when a packet to it reaches that IPv4 host itself: IPv4-mapped
    (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d, 64:ff9b:1::/48)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if any(ip in net for net in NAT64) or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def embedded_ipv4(ip: IP) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo server and client)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return []
    found = [v4 for v4 in (_same_as_ipv4(ip), ip.sixtofour) if v4 is not None]
    return found + list(ip.teredo or ())


def is_metadata(ip: IP) -> bool:
    return ip in METADATA_ADDRESSES or any(v4 in METADATA_ADDRESSES for v4 in embedded_ipv4(ip))


def is_internal(ip: IP) -> bool:
    """True for any address that is not plainly public, including an IPv6 form of an internal IPv4 address."""
    same = _same_as_ipv4(ip)
    if same is not None:  # the IPv4 host is what is reached: judge that
        return is_internal(same)
    if isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT:
        return True
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback:
        return True
    return any(is_internal(v4) for v4 in embedded_ipv4(ip))  # 6to4 and Teredo: a relay forwards to the IPv4 host


def parse_ip(text: str) -> IP:
    return ipaddress.ip_address(text.split("%", 1)[0])  # a link-local scope ("fe80::1%eth0") is not part of it


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order, each once. OSError when it does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check(host: str, port: int, allowed_internal: frozenset[str] | None) -> Target:
    """Resolve `host` once and decide. `allowed_internal` None: the user's own URL, any address but metadata;
    otherwise a hop reached from untrusted content: public addresses, or internal ones listed in the set.
    Raises BlockedAddress (one line) or OSError (does not resolve)."""
    name = host.lower().rstrip(".")
    if name in METADATA_NAMES:
        raise BlockedAddress(f"{host} is a cloud metadata service, a private or local address never fetched")
    addresses = resolve(name, port)
    for addr in addresses:
        ip = parse_ip(addr)
        if is_metadata(ip):
            raise BlockedAddress(f"{host} is on a private or local address ({addr}, a cloud metadata service)")
        if allowed_internal is not None and is_internal(ip) and addr not in allowed_internal:
            raise BlockedAddress(f"{host} is on a private or local address ({addr})")
    return Target(name, tuple(addresses))


def internal_of(target: Target) -> frozenset[str]:
    """The internal addresses among a checked target's: what a user-given URL lets its own redirects and feed
    entries reach."""
    return frozenset(a for a in target.addresses if is_internal(parse_ip(a)))
