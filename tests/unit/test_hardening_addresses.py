"""The address rule of every fetch (issue 9, item 2): what counts as internal, in every IPv6 disguise, and what a
hop reached from untrusted content may connect to. The resolver is patched; nothing is connected to."""
from __future__ import annotations

import socket

import pytest

from agent.sources import addresses
from agent.sources.addresses import BlockedAddress, check, is_internal, is_metadata, parse_ip
from tests.support.hostile_server import PatchedResolver


@pytest.mark.parametrize("addr", [
    "127.0.0.1", "127.0.0.2", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "100.127.255.254", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "::127.0.0.1", "::10.0.0.1",  # IPv4-compatible
    "2002:7f00:1::1", "2002:a9fe:a9fe::", "2002:0a00:0001::1", "2002:6440:0001::",  # 6to4 of 127/10/169.254/100.64
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1",  # NAT64 of 127.0.0.1, 169.254.169.254, 10.0.0.1
])
def test_internal_addresses(addr):
    assert is_internal(parse_ip(addr))


@pytest.mark.parametrize("addr", ["8.8.8.8", "151.101.1.140", "2606:4700::1111", "2002:0808:0808::1",
                                  "64:ff9b::808:808", "::ffff:8.8.8.8"])
def test_public_addresses(addr):
    assert not is_internal(parse_ip(addr))


@pytest.mark.parametrize("addr", ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254",
                                  "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1"])
def test_metadata_addresses_in_any_form(addr):
    assert is_metadata(parse_ip(addr))


@pytest.fixture
def resolver(monkeypatch):
    patched = PatchedResolver({"public.test": ["8.8.8.8"], "intranet.test": ["10.0.0.5"],
                               "sneaky.test": ["2002:0a00:0005::1"], "imds.test": ["::ffff:169.254.169.254"]})
    monkeypatch.setattr(socket, "getaddrinfo", patched)
    return patched


def test_a_users_own_url_may_be_internal_but_never_metadata(resolver):
    assert check("intranet.test", 80, None).addresses == ("10.0.0.5",)
    for host in ("imds.test", "metadata.google.internal", "METADATA.GOOGLE.INTERNAL.", "169.254.169.254"):
        with pytest.raises(BlockedAddress, match="metadata"):
            check(host, 80, None)


def test_a_hop_from_untrusted_content_reaches_public_or_the_users_own_internal_addresses(resolver):
    users_own = addresses.internal_of(check("intranet.test", 80, None))
    assert users_own == {"10.0.0.5"}
    assert check("public.test", 80, users_own).addresses == ("8.8.8.8",)
    assert check("intranet.test", 80, users_own).addresses == ("10.0.0.5",)
    for host in ("sneaky.test", "10.0.0.6", "127.0.0.1", "[::1]".strip("[]")):
        with pytest.raises(BlockedAddress, match="private or local address"):
            check(host, 80, users_own)
    assert resolver.lookups == {"intranet.test": 2, "public.test": 1, "sneaky.test": 1}
