"""The client address behind our own proxies: X-Forwarded-For believed only from a trusted peer, and then only
as far as the trusted hops go (the right-most entry that is not one of ours)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from mpp_kit.forwarded import MAX_HOPS, Cidrs, client_address, parse_address, parse_networks

WEB = parse_networks("10.42.0.0/16")  # the web's pods
WEB_AND_INGRESS = parse_networks("10.42.0.0/16, 192.168.10.4, fd00::/8")


def test_an_untrusted_peer_is_the_client_whatever_the_header_says() -> None:
    assert client_address("203.0.113.9", ["198.51.100.1"], WEB) == "203.0.113.9"
    assert client_address("203.0.113.9", [], ()) == "203.0.113.9"
    # Nothing is trusted by default, not even loopback.
    assert client_address("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"


def test_a_trusted_peer_names_the_client_in_the_header() -> None:
    assert client_address("10.42.3.7", ["198.51.100.1"], WEB) == "198.51.100.1"
    assert client_address("10.42.3.7", [" 2001:db8::5 "], WEB) == "2001:db8::5"


def test_the_right_most_untrusted_entry_wins_over_what_the_client_wrote_first() -> None:
    # The browser sent "X-Forwarded-For: 1.2.3.4"; the ingress appended the address it saw, then the web.
    chain = ["1.2.3.4, 198.51.100.1, 192.168.10.4"]
    assert client_address("10.42.3.7", chain, WEB_AND_INGRESS) == "198.51.100.1"
    # Several header lines are one list, in order.
    assert client_address("10.42.3.7", ["1.2.3.4", "198.51.100.1", "192.168.10.4"], WEB_AND_INGRESS) == (
        "198.51.100.1"
    )


def test_only_trusted_hops_or_no_header_fall_back_to_the_farthest_known() -> None:
    assert client_address("10.42.3.7", [], WEB) == "10.42.3.7"
    assert client_address("10.42.3.7", ["192.168.10.4"], WEB_AND_INGRESS) == "192.168.10.4"
    assert client_address("10.42.3.7", [" , "], WEB) == "10.42.3.7"


def test_garbage_before_the_client_stops_the_walk_at_the_last_trusted_hop() -> None:
    assert client_address("10.42.3.7", ["198.51.100.1, unknown"], WEB) == "10.42.3.7"
    assert client_address("10.42.3.7", ["198.51.100.1, _hidden, 192.168.10.4"], WEB_AND_INGRESS) == (
        "192.168.10.4"
    )
    # Garbage left of the client is the client's own business.
    assert client_address("10.42.3.7", ["evil, 198.51.100.1"], WEB) == "198.51.100.1"


def test_a_chain_longer_than_our_proxies_is_not_walked_forever() -> None:
    trusted_hops = ["10.42.0.1"] * (MAX_HOPS + 5)
    assert client_address("10.42.3.7", ["198.51.100.1", *trusted_hops], WEB) == "10.42.0.1"


@pytest.mark.parametrize(
    ("written", "address"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.7:51234", "203.0.113.7"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("::ffff:10.42.0.9", "10.42.0.9"),  # IPv4-mapped: compared as the IPv4 address
        ("unknown", None),
        ("", None),
        ("999.1.1.1", None),
    ],
)
def test_addresses_as_proxies_write_them(written: str, address: str | None) -> None:
    parsed = parse_address(written)
    assert (str(parsed) if parsed else None) == address


def test_a_mapped_peer_inside_a_trusted_ipv4_network_is_trusted() -> None:
    assert client_address("::ffff:10.42.0.9", ["198.51.100.1"], WEB) == "198.51.100.1"


def test_networks_are_checked_when_the_settings_are_read() -> None:
    class Settings(BaseModel):
        trusted_proxy_cidrs: Cidrs = ""

    assert Settings(trusted_proxy_cidrs="10.0.0.0/8, 10.42.0.7").trusted_proxy_cidrs
    assert parse_networks("") == ()
    assert [str(n) for n in parse_networks("10.42.0.7,10.1.2.3/8")] == ["10.42.0.7/32", "10.0.0.0/8"]
    with pytest.raises(ValidationError, match="not an IP network"):
        Settings(trusted_proxy_cidrs="10.0.0.0/8, ingress.local")
