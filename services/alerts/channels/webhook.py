"""The webhook channel: a signed JSON POST to the agency system's URL; any 2xx is a delivery."""

from __future__ import annotations

import json
import time
from typing import Any

import asyncpg
import httpx

from services.alerts import directory_store
from services.alerts.channels import signing


class WebhookSender:
    def __init__(self, pool: asyncpg.Pool, client: httpx.AsyncClient) -> None:
        self._pool, self._client = pool, client

    async def __call__(self, row: dict[str, Any]) -> None:
        body = json.dumps(row["body"], ensure_ascii=False, sort_keys=True).encode()
        # The secret is read at send time: an agency that rotates it is signed for with the new one.
        secret = await directory_store.webhook_secret(self._pool, row["body"]["recipient_agency_id"])
        if secret is None:
            raise RuntimeError("the agency's webhook was removed")
        response = await self._client.post(
            row["target"],
            content=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                signing.HEADER: signing.sign(secret, body, int(time.time())),
                # Receivers de-duplicate by this id: a delivery is at-least-once.
                "X-Dondoc-Delivery": str(row["delivery_id"]),
            },
        )
        if not response.is_success:
            raise RuntimeError(f"webhook answered HTTP {response.status_code}")
