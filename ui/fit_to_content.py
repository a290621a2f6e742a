"""Keep a window as tall as its word-wrapped content.

A label that wraps has a height that depends on its width, which a top-level window's size
constraint does not follow; when sentences come and go (the strength meter, a refusal's
reasons) a dialog would squeeze them over each other. ``HeightFitter`` resizes its window to
the height the layout needs at the current width, once the layout has taken in the change.

Slots here are bound methods, never lambdas: a lambda that captures a widget and is connected
to a signal of a window that deletes itself on close can take the widget down with it in
PySide6 6.11 (an abort in ``malloc`` while the window is destroyed, seen in the tests).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget


class HeightFitter(QObject):
    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)  # after the pending layout requests
        self._timer.timeout.connect(self.fit)

    def request(self, *_args: object) -> None:
        """Fit soon; accepts and ignores a signal's arguments, so it can be a slot."""
        self._timer.start()

    def fit(self) -> None:
        window = self._window
        layout = window.layout()
        if layout is None:
            return
        layout.activate()
        needed = layout.totalHeightForWidth(window.width()) if layout.hasHeightForWidth() \
            else layout.totalSizeHint().height()
        needed = max(needed, layout.totalMinimumSize().height())
        if needed > 0 and needed != window.height():
            window.resize(window.width(), needed)
