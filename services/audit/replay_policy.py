"""What `dondoc replay audit` compares, and why it never replaces the log (DESIGN §5). A replay checks
that the live audit log holds every event of the Kafka log, by content and position; it cannot rebuild
the hash chain, which follows the order events of different partitions and topics were consumed in."""

from __future__ import annotations

from services.runtime.replay.policy import ReplayPolicy, TablePolicy

# Live events outside the part of the log the replay read are left out: after its end offsets, or
# (on a compacted topic) no longer in the log, so not in the rebuilt table either.
_IN_THE_LOG_READ = """EXISTS (SELECT 1 FROM replay_snapshot s
                    WHERE s.topic = t.topic AND s.partition = t.partition
                      AND t."offset" >= s.start_offset AND t."offset" < s.end_offset
                      AND (NOT s.compacted OR EXISTS (
                          SELECT 1 FROM "{shadow}".events r
                          WHERE (r.topic, r.partition, r."offset") = (t.topic, t.partition, t."offset"))))"""

REPLAY_POLICY = ReplayPolicy(
    tables={
        "events": TablePolicy(
            ignore=("seq", "prev_hash", "hash", "version", "recorded_at"),
            live_rows=_IN_THE_LOG_READ,
            why="the chain (seq, hashes) orders events of different partitions and topics as they were "
            "read, so a rebuilt chain cannot match it; version says how a link was made (unkeyed before "
            "the chain was keyed); recorded_at is the wall clock",
        )
    },
    kept=("chain_head", "chain_offsets"),  # the chain's own state: where it ends, how far it has read
    apply_refusal="The audit log is append-only evidence. Its hash chain follows the order in which events "
    "of different partitions and topics were consumed, which no replay can reproduce, so a "
    "rebuilt chain would not be the one inspectors verified, and replacing it would be "
    "rewriting the record. Check the live chain with `dondoc audit verify`; the comparison "
    "above tells whether it holds every event of the log, by content and position.",
    note="Compared per event (id, type, task, correlation, time, topic, partition, offset and exact bytes), "
    "not by chain order; live events outside the log read (after its end offsets, or compacted away) "
    "are left out.",
)
