"""Where a webhook may point: the alerts service must never become a way into the networks it runs in.

By default a webhook URL is accepted only over https, to a host whose every address is public: no
loopback, private range (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16 with the cloud
metadata endpoints, fe80::/10), shared (100.64/10), multicast or reserved address. The host is resolved
and every address checked, at registration and again at each send; the send then connects to an address
it checked (the Host header and TLS name stay the URL's), so a name that resolves to a public address
when registered and to 127.0.0.1 when sent (DNS rebinding) reaches nothing.

An installation whose agency systems live on its own network lists those networks in
``DONDOC_ALERTS_WEBHOOK_ALLOWED_NETWORKS`` (e.g. ``["10.20.0.0/16"]``): a host whose every address lies in
them is accepted, over http too (an on-premise network the operator vouches for).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

from services.runtime.refusals import Refused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class TargetRefused(Refused):
    """A webhook URL the policy refuses; the messages say why and what is accepted, never an address."""

    def __init__(self, message_en: str, message_vi: str) -> None:
        super().__init__("refused-target", message_en, message_vi, 422)


_ACCEPTED_EN = "accepted: an https URL of a host with public addresses only, or a network the installation allows"
_ACCEPTED_VI = "chỉ chấp nhận địa chỉ https tới máy chủ có địa chỉ công cộng, hoặc thuộc mạng được phép cấu hình"


def _refused(why_en: str, why_vi: str) -> TargetRefused:
    return TargetRefused(
        f"webhook URL refused: {why_en}; {_ACCEPTED_EN}", f"Địa chỉ webhook bị từ chối: {why_vi}; {_ACCEPTED_VI}"
    )


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return address.is_global and not address.is_multicast and not address.is_reserved


@dataclass(frozen=True)
class Target:
    """A checked URL and the addresses it may be reached at."""

    url: httpx.URL
    addresses: tuple[IPAddress, ...]

    def pinned(self) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
        """(URL to the first checked address, headers, extensions) for a request that resolves nothing."""
        host = self.url.host
        shown = f"[{host}]" if ":" in host else host  # an IPv6 literal
        host_header = shown if self.url.port is None else f"{shown}:{self.url.port}"
        extensions = {"sni_hostname": host} if self.url.scheme == "https" else {}
        return self.url.copy_with(host=str(self.addresses[0])), {"Host": host_header}, extensions


@dataclass(frozen=True)
class TargetPolicy:
    allowed_networks: Sequence[IPNetwork] = ()
    resolver: Resolver = field(default=system_resolver)

    def _allowed(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.allowed_networks)

    async def check(self, url: str) -> Target:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise _refused("it is not a URL", "không phải địa chỉ URL hợp lệ") from exc
        if parsed.scheme not in ("https", "http") or not parsed.host:
            raise _refused("only http(s) URLs with a host are accepted", "chỉ chấp nhận địa chỉ http(s) có tên máy chủ")
        if parsed.userinfo:
            raise _refused("credentials in the URL are not accepted", "không chấp nhận thông tin đăng nhập trong URL")
        addresses = await self._addresses(parsed)
        allowed = all(self._allowed(a) for a in addresses)
        if not allowed and not all(is_public(a) for a in addresses):
            raise _refused(
                "the host resolves to a loopback, private, link-local or reserved address",
                "máy chủ trỏ tới địa chỉ nội bộ (loopback, mạng riêng, link-local hoặc dành riêng)",
            )
        if parsed.scheme != "https" and not allowed:
            raise _refused("plain http is accepted only inside an allowed network", "chỉ chấp nhận https")
        return Target(parsed, addresses)

    async def _addresses(self, url: httpx.URL) -> tuple[IPAddress, ...]:
        host = url.host.strip("[]")
        try:
            return (ipaddress.ip_address(host),)
        except ValueError:
            pass
        try:
            found = await self.resolver(host, url.port or (443 if url.scheme == "https" else 80))
            addresses = tuple(ipaddress.ip_address(a.split("%", 1)[0]) for a in found)
        except (OSError, ValueError) as exc:
            raise _refused("the host name does not resolve", "không phân giải được tên máy chủ") from exc
        if not addresses:
            raise _refused("the host name does not resolve", "không phân giải được tên máy chủ")
        return addresses
