"""The embedded default transport: each message becomes an RFC 5322 ``.eml`` file in a folder.

Another program (a mail client, a relay's pickup directory) sends them on. Files are written
whole or not at all — temp file, fsync, ``os.replace`` — and readable only by their owner
(mode 0600 in a 0700 folder), because a message may carry a reset code. The file name comes
from the Message-ID, so delivering the same outbox row twice replaces one file instead of
creating two.
"""

from __future__ import annotations

import email.policy
import os
import re
import tempfile
from email.message import EmailMessage
from pathlib import Path

from services.mail.transport import DeliveryError

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def default_outbox_folder() -> Path:
    from platformdirs import user_data_path

    return user_data_path("gatehouse", appauthor=False) / "outbox"


def file_name(message: EmailMessage) -> str:
    message_id = str(message.get("Message-ID", "")).strip().strip("<>")
    if not message_id:
        raise DeliveryError("The message has no Message-ID; it cannot be written to the "
                            "outbox folder.", permanent=True)
    return _UNSAFE.sub("_", message_id)[:200].lstrip(".") + ".eml"


class EmlFolderTransport:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder).expanduser()

    @property
    def description(self) -> str:
        return f".eml files in {self.folder}"

    def send(self, message: EmailMessage) -> None:
        target = self.folder / file_name(message)
        data = message.as_bytes(policy=email.policy.SMTP)  # CRLF line ends, as RFC 5322 says
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".writing-", suffix=".part", dir=self.folder)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(self.folder)
        except OSError as exc:
            raise DeliveryError(
                f"Cannot write to the outbox folder {self.folder} ({exc.strerror or exc}); "
                "check that it exists and is writable, or choose another with: "
                "python main.py mail settings set mail_outbox_folder FOLDER",
                connection=True) from None

    def close(self) -> None:
        pass


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the directory itself is on disk (POSIX).
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
