"""What a failed send leaves behind: a status class, never what the remote end said.

``last_error`` of a delivery is shown to operators of the recipient's agency (admin_routes.py, the CLI)
and retried on demand: if it held the remote body, a webhook pointed anywhere would read back what that
place answers. A class such as ``http-5xx``, ``timeout`` or ``refused-target`` says enough to act on.
"""

from __future__ import annotations

import aiosmtplib
import httpx

from services.alerts.channels.targets import TargetRefused


class DeliveryFailed(RuntimeError):
    """A send that failed for a reason its channel names as a status class."""

    def __init__(self, status_class: str) -> None:
        super().__init__(status_class)
        self.status_class = status_class


def status_class(exc: BaseException) -> str:
    if isinstance(exc, DeliveryFailed):
        return exc.status_class
    if isinstance(exc, TargetRefused):
        return "refused-target"
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return "smtp-disconnected"
    if isinstance(exc, TimeoutError | httpx.TimeoutException):  # aiosmtplib's timeouts are TimeoutErrors
        return "timeout"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused | aiosmtplib.SMTPRecipientRefused):
        return "smtp-recipient-refused"
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        return "connect-failed"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"smtp-{exc.code // 100}xx"
    if isinstance(exc, aiosmtplib.SMTPException):
        return "smtp-error"
    if isinstance(exc, httpx.ConnectError | ConnectionError):
        return "connect-failed"
    if isinstance(exc, httpx.HTTPError | OSError):
        return "transport-error"
    return f"internal-{type(exc).__name__}"
