"""The integration tests' settings: the session's ``settings`` (tests/conftest.py) with what one installation
of the local stack also has — the audit chain's key, made once per installation like `dondoc up` makes it,
and the audit service's own database role."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def settings(settings: Any, infra: Any) -> Any:
    from deploy import stack

    return settings.model_copy(
        update={
            "audit_key": stack.audit_key(),
            "audit_database_url": infra.audit_database_url,
            # Small, so the tamper drill finds a checkpoint without waiting for a thousand events.
            "audit_checkpoint_every": 5,
            "audit_checkpoint_interval_s": 1.0,
        }
    )
