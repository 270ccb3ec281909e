"""The keyed audit chain and its walk: each kind of tampering is named, at the row it touched."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.audit import checkpoints
from services.audit.domain import GENESIS, KEYED, LEGACY, ChainRow, MissingAuditKey, chain_key, legacy_link, link
from services.audit.verification import ChainWalk, Finding

KEY = chain_key("k" * 32)


def _chain(n: int, *, legacy: int = 0, key: bytes = KEY) -> list[ChainRow]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        value, topic, partition, offset = f'{{"n":{seq}}}'.encode(), "dondoc.task-events", seq % 3, seq
        if seq <= legacy:
            hash_, version = legacy_link(prev, seq, value), LEGACY
        else:
            hash_, version = link(key, prev, topic, partition, offset, value), KEYED
        rows.append(ChainRow(seq, str(uuid.uuid4()), topic, partition, offset, value, prev, hash_, version))
        prev = hash_
    return rows


class _Index:
    def __init__(self, rows: list[ChainRow]) -> None:
        self.rows = sorted(rows, key=lambda r: r.seq)

    async def row_with_hash(self, hash_: bytes) -> ChainRow | None:
        return next((r for r in self.rows if r.hash == hash_), None)

    async def rows_linking_to(self, hash_: bytes) -> list[ChainRow]:
        return [r for r in self.rows if r.prev_hash == hash_]


async def _walk(
    rows: list[ChainRow],
    *,
    head: tuple[int, bytes] | None = None,
    checkpoint: tuple[int, bytes] | None = None,
    logged: set[str] | None = None,
    key: bytes = KEY,
) -> Finding | None:
    rows = sorted(rows, key=lambda r: r.seq)
    walk = ChainWalk(key, _Index(rows), checkpoints=dict([checkpoint]) if checkpoint else {}, logged_events=logged)
    if head is None and rows:
        head = (rows[-1].seq, rows[-1].hash)
    return await walk.feed(rows) or walk.end(head=head, checkpoint_count=checkpoint[0] if checkpoint else 0)


async def test_an_untouched_chain_verifies_legacy_rows_included() -> None:
    assert await _walk(_chain(8)) is None
    assert await _walk(_chain(8, legacy=3)) is None


async def test_a_chain_made_without_the_key_does_not_verify() -> None:
    finding = await _walk(_chain(4, key=b"someone-else's-key-of-32-bytes!!"))
    assert finding is not None and finding.kind == "modified" and finding.seq == 1


async def test_a_changed_value_is_modified_at_its_row() -> None:
    rows = _chain(6)
    rows[2] = dataclasses.replace(rows[2], value=b'{"forged":true}')
    finding = await _walk(rows)
    assert finding is not None and (finding.kind, finding.seq) == ("modified", 3)


@pytest.mark.parametrize("field", ["topic", "partition", "offset"])
async def test_a_changed_log_position_is_modified(field: str) -> None:
    rows = _chain(5)
    changed: dict[str, Any] = {field: {"topic": "dondoc.alert-events", "partition": 7, "offset": 999}[field]}
    rows[1] = dataclasses.replace(rows[1], **changed)
    finding = await _walk(rows)
    assert finding is not None and (finding.kind, finding.seq) == ("modified", 2)


async def test_a_renumbered_row_is_modified() -> None:
    rows = _chain(3)
    rows[2] = dataclasses.replace(rows[2], seq=10)
    finding = await _walk(rows)
    assert finding is not None and (finding.kind, finding.seq) == ("modified", 10)


async def test_a_deleted_row_is_named_by_the_number_it_had() -> None:
    rows = _chain(6)
    del rows[3]
    finding = await _walk(rows)
    assert finding is not None and (finding.kind, finding.seq) == ("deleted", 4)
    # Renumbering the rows after it hides nothing.
    renumbered = rows[:3] + [dataclasses.replace(r, seq=r.seq - 1) for r in rows[3:]]
    finding = await _walk(renumbered)
    assert finding is not None and (finding.kind, finding.seq) == ("deleted", 4)


async def test_an_inserted_row_is_found_whether_or_not_the_log_was_read() -> None:
    rows = _chain(5)
    forged = ChainRow(3, str(uuid.uuid4()), "dondoc.task-events", 0, 77, b'{"forged":1}', rows[1].hash, bytes(32))
    shifted = rows[:2] + [forged] + [dataclasses.replace(r, seq=r.seq + 1) for r in rows[2:]]
    finding = await _walk(shifted)
    assert finding is not None and (finding.kind, finding.seq) == ("inserted", 3)
    logged = {r.event_id for r in rows}
    appended = [*rows, dataclasses.replace(forged, seq=6, prev_hash=rows[-1].hash)]
    finding = await _walk(appended, logged=logged)
    assert finding is not None and (finding.kind, finding.seq) == ("inserted", 6)


async def test_swapped_rows_are_reordered() -> None:
    rows = _chain(6)
    rows[2], rows[3] = dataclasses.replace(rows[3], seq=3), dataclasses.replace(rows[2], seq=4)
    finding = await _walk(rows)
    assert finding is not None and (finding.kind, finding.seq) == ("reordered", 3)


async def test_a_truncated_tail_is_found_by_the_head_or_a_checkpoint() -> None:
    rows = _chain(6)
    finding = await _walk(rows[:4], head=(6, rows[5].hash))
    assert finding is not None and (finding.kind, finding.seq) == ("truncated", 5)
    # chain_head forged to match: the signed checkpoint still remembers six events.
    finding = await _walk(rows[:4], checkpoint=(6, rows[5].hash))
    assert finding is not None and (finding.kind, finding.seq) == ("truncated", 5)
    finding = await _walk([], head=(0, GENESIS), checkpoint=(6, rows[5].hash))
    assert finding is not None and (finding.kind, finding.seq) == ("truncated", 1)


async def test_a_forged_chain_head_is_found() -> None:
    rows = _chain(4)
    finding = await _walk(rows, head=(4, bytes(32)))
    assert finding is not None and finding.kind == "forged-head"
    finding = await _walk(rows, head=(3, rows[2].hash))
    assert finding is not None and finding.kind == "forged-head"


async def test_rewriting_the_chain_without_the_key_contradicts_a_checkpoint() -> None:
    # An insider recomputes every link as unkeyed SHA-256: each verifies alone, the checkpoint does not.
    rows, genuine = _chain(4, legacy=4), _chain(4)
    finding = await _walk(rows, checkpoint=(4, genuine[3].hash))
    assert finding is not None and (finding.kind, finding.seq) == ("modified", 4)


async def test_an_unkeyed_row_after_a_keyed_one_is_a_forgery() -> None:
    rows = _chain(4)
    forged = legacy_link(rows[1].hash, 3, rows[2].value)
    rows[2] = dataclasses.replace(rows[2], version=LEGACY, hash=forged)
    rows[3] = dataclasses.replace(rows[3], prev_hash=forged)
    finding = await _walk(rows)
    assert finding is not None and (finding.kind, finding.seq) == ("modified", 3)


def test_the_service_refuses_a_missing_or_short_key() -> None:
    for secret in ("", "short"):
        with pytest.raises(MissingAuditKey, match="DONDOC_AUDIT_KEY"):
            chain_key(secret)


def test_a_checkpoint_round_trips_and_a_forged_one_is_refused() -> None:
    cp = checkpoints.Checkpoint(
        "audit", 7, bytes(range(32)), {"dondoc.task-events": {0: (0, 4), 2: (3, 9)}}, datetime.now(UTC)
    )
    assert checkpoints.decode(KEY, checkpoints.encode(KEY, cp)) == cp
    with pytest.raises(checkpoints.ForgedCheckpoint, match="signature"):
        checkpoints.decode(b"x" * 32, checkpoints.encode(KEY, cp))
    tampered = checkpoints.encode(KEY, cp).replace(b'"count":7', b'"count":9')
    with pytest.raises(checkpoints.ForgedCheckpoint, match="signature"):
        checkpoints.decode(KEY, tampered)
    with pytest.raises(checkpoints.ForgedCheckpoint, match="not a checkpoint"):
        checkpoints.decode(KEY, b"garbage")


def test_the_audit_service_refuses_to_start_without_its_key() -> None:
    from services.audit.bootstrap import DEFINITION
    from services.runtime.service import create_app
    from services.runtime.settings import Settings

    # Unreachable servers on purpose: the refusal comes before any connection is tried.
    settings = Settings(audit_key="", token_secret="t" * 32, database_url="postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(MissingAuditKey, match="DONDOC_AUDIT_KEY"):
        create_app(DEFINITION, settings)  # before the server starts, so `dondoc service audit` says why and exits 2


def test_a_checkpoint_names_its_chain_before_anything_in_it_is_trusted() -> None:
    cp = checkpoints.Checkpoint("dondoc/audit", 1, bytes(32), {}, datetime.now(UTC))
    # verify skips another chain's checkpoints (another database on the same Kafka), and holds a record
    # that claims this chain, or claims none, to the key.
    assert checkpoints.chain_of(checkpoints.encode(b"another-installation-key-32bytes", cp)) == "dondoc/audit"
    assert checkpoints.chain_of(b'{"checkpoint": {"chain": 7}}') is None
    assert checkpoints.chain_of(b"\xff") is None
    assert checkpoints.chain_id("dondoc", "audit") == "dondoc/audit"
