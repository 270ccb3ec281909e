"""Webhooks cannot be pointed inside the network: loopback, private, link-local, plain http and a name that
rebinds to an internal address are refused by default; an installation allows its own networks explicitly."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import httpx
import pytest

from services.alerts.channels.outcome import status_class
from services.alerts.channels.targets import TargetPolicy, TargetRefused
from services.alerts.channels.webhook import WebhookSender
from services.alerts.deliveries import Delivery

PUBLIC = "93.184.216.34"


def resolving(*answers: list[str]) -> Any:
    """A resolver that answers each lookup with the next list (the last one repeats)."""
    calls: list[str] = []

    async def resolve(host: str, _port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), len(answers)) - 1]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/alerts",
        "https://[::1]/alerts",
        "https://10.1.2.3/alerts",
        "https://172.16.0.5/alerts",
        "https://192.168.1.10/alerts",
        "https://169.254.169.254/latest/meta-data",
        "https://[fe80::1]/alerts",
        "https://[fd00::1]/alerts",
        "https://100.64.0.1/alerts",
        "https://0.0.0.0/alerts",
        "https://[::ffff:127.0.0.1]/alerts",
        "https://224.0.0.1/alerts",
    ],
)
async def test_the_default_refuses_internal_addresses(url: str) -> None:
    with pytest.raises(TargetRefused, match="loopback, private, link-local") as refused:
        await TargetPolicy(resolver=resolving([PUBLIC])).check(url)
    assert "https" in refused.value.message_en and refused.value.message_vi.startswith("Địa chỉ webhook bị từ chối")


async def test_the_default_refuses_plain_http_even_to_a_public_host() -> None:
    with pytest.raises(TargetRefused, match="plain http"):
        await TargetPolicy(resolver=resolving([PUBLIC])).check("http://agency.example/alerts")


async def test_a_name_is_refused_if_any_of_its_addresses_is_internal() -> None:
    policy = TargetPolicy(resolver=resolving([PUBLIC, "10.0.0.7"]))
    with pytest.raises(TargetRefused):
        await policy.check("https://agency.example/alerts")


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    async def nowhere(_host: str, _port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(TargetRefused, match="does not resolve"):
        await TargetPolicy(resolver=nowhere).check("https://nowhere.example/alerts")


async def test_credentials_and_other_schemes_are_refused() -> None:
    policy = TargetPolicy(resolver=resolving([PUBLIC]))
    for url in ("https://user:pw@agency.example/alerts", "ftp://agency.example/alerts", "file:///etc/passwd"):
        with pytest.raises(TargetRefused):
            await policy.check(url)


async def test_a_public_https_host_is_accepted() -> None:
    target = await TargetPolicy(resolver=resolving([PUBLIC])).check("https://agency.example/alerts")
    assert target.addresses == (ipaddress.ip_address(PUBLIC),)


async def test_the_on_premise_allow_list_accepts_its_networks_over_http_too() -> None:
    policy = TargetPolicy([ipaddress.ip_network("10.20.0.0/16")], resolver=resolving(["10.20.3.4"]))
    assert (await policy.check("http://agency.internal:8080/alerts")).addresses == (ipaddress.ip_address("10.20.3.4"),)
    with pytest.raises(TargetRefused):  # the rest of the private ranges stays refused
        await policy.check("http://10.30.0.1/alerts")


class _Pool:
    async def fetchval(self, *_: Any) -> str:
        return "s" * 32


def _row(target: str) -> Delivery:
    body = {"recipient_agency_id": "bd-sgddt", "text": "x"}
    return Delivery(uuid.uuid4(), "webhook", "alert", "can-bo-1", target, body, attempts=1)


async def test_a_name_that_rebinds_to_loopback_after_registration_is_refused_at_send_time() -> None:
    resolve = resolving([PUBLIC], ["127.0.0.1"])
    policy = TargetPolicy(resolver=resolve)
    await policy.check("https://rebind.example/alerts")  # registration: public
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    transport = httpx.MockTransport(record)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(TargetRefused) as refused:
            await WebhookSender(_Pool(), client, policy)(_row("https://rebind.example/alerts"))  # type: ignore[arg-type]
    assert sent == [] and status_class(refused.value) == "refused-target"


async def test_a_send_goes_to_the_address_it_checked_under_the_url_s_name() -> None:
    """The request connects to the checked address (no second lookup to rebind), with the URL's Host and
    TLS name, and follows no redirect."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(302, headers={"Location": "https://127.0.0.1/"})

    policy = TargetPolicy(resolver=resolving([PUBLIC]))
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(Exception) as failed:
            await WebhookSender(_Pool(), client, policy)(_row("https://agency.example:8443/alerts"))  # type: ignore[arg-type]
    (request,) = sent
    assert request.url.host == PUBLIC and request.url.port == 8443 and request.url.path == "/alerts"
    assert request.headers["host"] == "agency.example:8443"
    assert request.extensions["sni_hostname"] == "agency.example"
    assert status_class(failed.value) == "http-3xx"


async def test_last_error_is_a_status_class_never_the_remote_body() -> None:
    transport = httpx.MockTransport(lambda _r: httpx.Response(500, text="internal admin page: db password=…"))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(Exception) as failed:
            sender = WebhookSender(_Pool(), client, TargetPolicy(resolver=resolving([PUBLIC])))  # type: ignore[arg-type]
            await sender(_row("https://agency.example/alerts"))
    assert status_class(failed.value) == "http-5xx"
    assert status_class(httpx.ConnectTimeout("slow")) == "timeout"
    assert status_class(TimeoutError()) == "timeout"
