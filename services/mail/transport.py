"""What a transport is: something that hands one message to the next hop, or says why not."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

from services.errors import GatehouseError


class DeliveryError(GatehouseError):
    """A message was not accepted. The text is shown to people and stored in the outbox's
    ``last_error``, so it never carries a password or a message body.

    ``permanent``: retrying the same message cannot help (the server refused the recipient
    with a 5xx reply). ``connection``: the transport itself is unusable right now (unreachable,
    TLS refused, sign-in refused), so the delivery run stops instead of failing every message.
    """

    def __init__(self, message: str, *, permanent: bool = False,
                 connection: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.connection = connection


class Transport(Protocol):
    @property
    def description(self) -> str:
        """Where messages go, for reports and the audit trail (no secrets)."""
        ...

    def send(self, message: EmailMessage) -> None:
        """Return only once the next hop has accepted ``message``; else raise DeliveryError."""
        ...

    def close(self) -> None:
        """Release any connection; the transport may be used again afterwards."""
        ...
