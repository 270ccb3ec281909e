"""The assignment service refuses with the one ``Refused`` of every service (runtime/refusals.py).

The same refusal becomes an HTTP error body (``{"code", "message", "message_vi"}``), an
``IntakeRejected`` event for agency systems, and a reason in the import report, so an agency reads
the same explanation whichever door it came through.
"""

from __future__ import annotations

from services.runtime.refusals import Refused, conflict, forbidden, not_found

Rejected = Refused  # the name the assignment modules use

__all__ = ["Rejected", "conflict", "forbidden", "not_found"]
