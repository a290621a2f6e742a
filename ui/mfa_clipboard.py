"""Copying a secret to the clipboard for a short while (KeePassXC: clear it after a timeout).

The guard lives with the application, not with the dialog that copied: the clipboard must be
cleared even if that dialog has closed. It keeps only a hash of what it copied, and clears the
clipboard only if it still holds that text — never what the person copied since.
"""

from __future__ import annotations

import hashlib

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QGuiApplication

CLEAR_AFTER_MS = 30_000


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class ClipboardGuard(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._digest: bytes | None = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(CLEAR_AFTER_MS)
        self.timer.timeout.connect(self.clear_now)

    def copy(self, text: str) -> None:
        """Put ``text`` on the clipboard and clear it after ``CLEAR_AFTER_MS``."""
        QGuiApplication.clipboard().setText(text)
        self._digest = _digest(text)
        self.timer.start()

    def clear_now(self) -> None:
        self.timer.stop()
        clipboard = QGuiApplication.clipboard()
        if self._digest is not None and _digest(clipboard.text()) == self._digest:
            clipboard.clear()
        self._digest = None


def guard() -> ClipboardGuard:
    """The application's one guard (made on first use, owned by the application)."""
    app = QGuiApplication.instance()
    assert app is not None
    existing = app.findChild(ClipboardGuard, "mfaClipboardGuard")
    if isinstance(existing, ClipboardGuard):
        return existing
    made = ClipboardGuard(app)
    made.setObjectName("mfaClipboardGuard")
    return made
