"""Replay (DESIGN §5): rebuild a projection from the Kafka log in a shadow schema, compare it with the
live one, and on request put it in place.

Invariants (tests/integration/test_replay.py breaks them on purpose):
* The live service is untouched by a replay: the log is read with no consumer group (partitions
  assigned, read from their first offset up to the end offsets taken when the replay starts), and every
  write goes to the shadow schema ``<schema>_replay``, dropped and migrated afresh each run. Nothing
  leaves it: the Consumer's dead-letter producer is a stand-in (the dead letter stays a row of the
  shadow's ``dead_letters``), the shadow's outbox is never relayed, no timer fires, nothing is delivered.
* The service's own migrations and handlers build the shadow, through the runtime's Consumer (inbox
  claim and handler in one transaction), so the rebuilt state is what the service would hold.
* Partitions are merged by record timestamp (each partition in its own order), the order the live
  service read them in as near as it can be known; a projection must not depend on it anyway.
* Comparing is table by table with ``EXCEPT ALL`` both ways, in one snapshot of the live schema, over
  every table the service's migrations create except the runtime's (outbox, inbox, timers, …) and those
  its policy keeps (not derived from its input topics); columns a policy names as order- or wall-clock
  bookkeeping are left out.
* Apply only replaces the live tables when the service is down (its /readyz does not answer and its
  consumer group has no member), in one transaction with a copy of the old rows in a backup schema; the
  inbox is replaced with the shadow's (it records which events the tables hold) and the group's offsets
  are set to the replay's end offsets before that transaction commits, so the restarted service goes
  on exactly after what the tables contain.

What may be replayed, and how each table is compared, is the service's own knowledge: it declares a
``ReplayPolicy`` (or a refusal) on its ``ServiceDefinition``, next to its composition root.

Modules: policy (what a service allows), log (reading the topics), shadow and rebuilding (the shadow
schema and filling it), comparing, applying, running (is the service up), offsets (its group's).
"""

from services.runtime.replay.applying import Applied, apply
from services.runtime.replay.comparing import Comparison, TableComparison, compare
from services.runtime.replay.log import LogReader, Position
from services.runtime.replay.offsets import group_offsets
from services.runtime.replay.policy import ReplayPolicy, ReplayRefused, TablePolicy, policy_of
from services.runtime.replay.rebuilding import Progress, Rebuilt, projection_tables, rebuild
from services.runtime.replay.running import group_members, running_signs
from services.runtime.replay.shadow import shadow_schema_of

__all__ = [
    "Applied",
    "Comparison",
    "LogReader",
    "Position",
    "Progress",
    "Rebuilt",
    "ReplayPolicy",
    "ReplayRefused",
    "TableComparison",
    "TablePolicy",
    "apply",
    "compare",
    "group_members",
    "group_offsets",
    "policy_of",
    "projection_tables",
    "rebuild",
    "running_signs",
    "shadow_schema_of",
]
