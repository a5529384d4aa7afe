"""The client's address behind proxies we run (the web, the ingress), for per-address rate limits.

`X-Forwarded-For` is a list anyone can start: a client sends `X-Forwarded-For: 1.2.3.4` and each proxy appends
the address it saw. Only the entries appended by proxies we trust are facts, and they are at the right end. So:
the TCP peer when it is not a trusted proxy (the header is then the client's own words, ignored); otherwise the
right-most entry that is not a trusted proxy, as MDN recommends for security-relevant uses
(https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/X-Forwarded-For#selecting_an_ip_address).

The server must then see the real peer: uvicorn runs with `--no-proxy-headers`, or it would already have replaced
the peer with the header's first entry (which the client chose) from the addresses it trusts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Annotated

from pydantic import AfterValidator

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# A hop list longer than this is not from our few proxies: beyond it, nothing more is believed.
MAX_HOPS = 16


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 192.168.1.7, fd00::/8` -> networks (a bare address is a /32 or /128); ValueError naming the
    entry that is not one."""
    found: list[Network] = []
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            found.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP network (CIDR) or address") from None
    return tuple(found)


def _valid_networks(value: str) -> str:
    parse_networks(value)
    return value


# A settings type: comma-separated CIDRs, checked when the settings are read (a typo stops the start, naming the
# setting, instead of silently trusting nothing or everything).
Cidrs = Annotated[str, AfterValidator(_valid_networks)]


def parse_address(text: str) -> Address | None:
    """An address as proxies write it (`203.0.113.7`, `2001:db8::1`, `[2001:db8::1]`, `203.0.113.7:51234`,
    `[2001:db8::1]:443`), an IPv4-mapped IPv6 address as its IPv4 one; None for anything else (`unknown`,
    an obfuscated identifier, garbage)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port (an IPv6 address has at least two colons)
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(peer: str, forwarded_for: Iterable[str], trusted_proxies: Sequence[Network]) -> str:
    """The client's address: `peer` (the TCP peer) unless it is a trusted proxy; then the right-most entry of
    the `X-Forwarded-For` values (every header line, in order) that is not a trusted proxy. When every entry is a
    trusted proxy, the left-most of them (the farthest hop known); without a usable entry, the peer. An entry
    that is not an address, met before the client's, stops the walk at the last trusted hop: what lies left of
    it was not written by a proxy of ours."""
    peer_address = parse_address(peer)
    if peer_address is None or not _trusted(peer_address, trusted_proxies):
        return str(peer_address) if peer_address is not None else peer
    hops = [hop for line in forwarded_for for hop in line.split(",") if hop.strip()]
    nearest = peer_address
    for hop in reversed(hops[-MAX_HOPS:]):
        address = parse_address(hop)
        if address is None:
            break
        if not _trusted(address, trusted_proxies):
            return str(address)
        nearest = address
    return str(nearest)
