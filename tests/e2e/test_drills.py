"""The fault drills, small (issue 17): a few hundred commands through the public ways in while every
service is killed with -9 once, the broker is stopped and started, and PostgreSQL is restarted in
immediate mode, on a stack of the drill's own; then nothing accepted may be lost or applied twice, no
good event dead-lettered, and every LISTEN connection back. The big drills are `dondoc drill …`
(docs/reliability.md).

One stack for the three faults, one after the other: starting Kafka and PostgreSQL three times would
cost more than the faults."""

from __future__ import annotations

import pytest

from drills.run import drill

pytestmark = pytest.mark.e2e


async def test_nothing_accepted_is_lost_or_doubled_through_a_killed_service_a_broker_restart_and_a_database_crash() -> (
    None
):
    result = await drill(
        "every-kind",
        events=240,
        rate=4.0,
        every_s=1.0,
        down_s=5.0,
        kills_per_service=1,
        broker_faults=("stop",),
        postgres_faults=("immediate",),
    )
    kinds = [f.what for f in result.faults]
    assert sum(k.startswith("kill -9 ") for k in kinds) == 5
    assert "Kafka stop/start" in kinds and "PostgreSQL immediate restart" in kinds
    report = result.report
    table = {(r.service, r.what): r for r in report.rows}
    assert all(r.sent > 0 for r in report.rows), table
    assert report.lost == 0, table
    assert report.duplicated == 0, table
    assert all(r.dead_lettered == 0 for r in report.rows), table  # a good event is never given up on
    assert report.bad_sent > 0 and report.bad_rejected == report.bad_sent
    assert not result.problems, result.problems
    assert result.ok
