"""The webhook channel: a signed JSON POST to the agency system's URL; any 2xx is a delivery.

The URL is checked again at each send (targets.py) and the request goes to an address that check
accepted, so a target that became internal since it was registered is refused, not reached. Redirects
are not followed (an answer 3xx is a failure): a redirect could lead anywhere the check would refuse.
"""

from __future__ import annotations

import json
import time

import asyncpg
import httpx

from services.alerts import directory_store
from services.alerts.channels import signing
from services.alerts.channels.outcome import DeliveryFailed
from services.alerts.channels.targets import TargetPolicy
from services.alerts.deliveries import Delivery


class WebhookSender:
    def __init__(self, pool: asyncpg.Pool, client: httpx.AsyncClient, policy: TargetPolicy) -> None:
        self._pool, self._client, self._policy = pool, client, policy

    async def __call__(self, row: Delivery) -> None:
        body = json.dumps(row.body, ensure_ascii=False, sort_keys=True).encode()
        # The secret is read at send time: an agency that rotates it is signed for with the new one.
        secret = await directory_store.webhook_secret(self._pool, row.body["recipient_agency_id"])
        if secret is None:
            raise DeliveryFailed("webhook-removed")
        url, host, extensions = (await self._policy.check(row.target)).pinned()
        response = await self._client.post(
            url,
            content=body,
            headers={
                **host,
                "Content-Type": "application/json; charset=utf-8",
                signing.HEADER: signing.sign(secret, body, int(time.time())),
                # Receivers de-duplicate by this id: a delivery is at-least-once.
                "X-Dondoc-Delivery": str(row.delivery_id),
            },
            extensions=extensions,
            follow_redirects=False,
        )
        if not response.is_success:
            raise DeliveryFailed(f"http-{response.status_code // 100}xx")
