"""The client's address, as the deployment's trusted proxies report it.

``X-Forwarded-For`` is a header anyone can send. It is read only when the request came from a proxy listed in
``settings.TRUSTED_PROXIES`` (addresses or networks, empty by default), and then only as far as the chain of
trusted proxies goes: walking the header from the right, the first address that is not a trusted proxy is the
client. Anything the client wrote to the left of that is ignored. With no trusted proxy configured the
address is ``REMOTE_ADDR``, whatever the headers say.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _parse(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address, networks) -> bool:
    return address is not None and any(address in network for network in networks)


def client_ip(request) -> str:
    """The address rate limits are counted against (see the module's docstring)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    nearest = _parse(remote)
    if not networks or not _trusted(nearest, networks):
        return remote
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops[-20:]):  # a longer chain is not ours; its far end is the client's invention
        address = _parse(hop)
        if address is None:
            break  # garbage from the client: stay with the last proxy that vouched for something
        nearest = address
        if not _trusted(address, networks):
            return str(address)
    return str(nearest)


def rate_key(ip: str) -> str:
    """The unit a limit counts: one IPv4 address, or an IPv6 /64 (one subscriber line holds a whole /64 and
    can change the rest of its address at will)."""
    address = _parse(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else address or "unknown")
