"""The pinned PySide6 must not leak references on emit.

PySide6 6.12.0 on Python 3.11 drops one reference to ``True`` per ``emit`` from Python; after
some thousands of emits (minutes of typing in a search box) the interpreter aborts in
``bool_dealloc``. 6.11.3 is pinned for that reason; this test fails if an upgrade brings it back.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Source(QObject):
    changed = Signal()
    carried = Signal(object)


def test_emitting_often_leaves_true_alone() -> None:
    source = _Source()
    seen: list[object] = []
    source.carried.connect(seen.append)
    before = sys.getrefcount(True)
    for n in range(2000):
        source.changed.emit()
        source.carried.emit(n)
    # A few references may come and go elsewhere; thousands lost would be the bug.
    assert abs(sys.getrefcount(True) - before) < 50
    assert len(seen) == 2000
