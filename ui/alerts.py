"""Messages a person reads: message boxes (errors, notices, yes/no questions) and the inline
error and banner labels of forms and pages.

Errors and notices open window-modal and return at once (``QMessageBox.open``), so no caller
waits in a nested event loop; ``confirm`` needs an answer and is the one ``ask``-style entry
point here, which tests replace.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

TITLE = "Gatehouse"


def _box(parent: QWidget | None, icon: QMessageBox.Icon, text: str, title: str,
         detail: str = "") -> QMessageBox:
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # service text is never markup
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if detail:
        box.setInformativeText(detail)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return box


def show_error(parent: QWidget | None, text: str, title: str = TITLE) -> None:
    """An error the person can act on: ``text`` is a whole sentence from the service."""
    _box(parent, QMessageBox.Icon.Warning, text, title).open()


def show_internal_error(parent: QWidget | None, kind: str) -> None:
    """A fault in Gatehouse itself: no traceback for the person, just what to do next."""
    _box(parent, QMessageBox.Icon.Critical,
         f"Gatehouse hit an internal error ({kind}) and did not finish this action; "
         "nothing further was changed. Try again, and if it happens again, report it with "
         "the log printed in the terminal.", TITLE).open()


def show_info(parent: QWidget | None, text: str, title: str = TITLE, detail: str = "") -> None:
    _box(parent, QMessageBox.Icon.Information, text, title, detail).open()


def confirm(parent: QWidget | None, text: str, action: str, title: str = TITLE) -> bool:
    """Ask before an action that changes something; True when the person chose ``action``."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton,
                      parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    go = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is go


def inline_label(style: str = "formError", *, tone: str | None = None) -> QLabel:
    """A wrapping plain-text label for an inline error (``formError``) or a ``banner``, hidden
    until there is something to say. Plain text: messages may quote what a person typed."""
    label = QLabel()
    label.setObjectName(style)
    if tone is not None:
        label.setProperty("tone", tone)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.hide()
    return label
