"""GUI test fixtures: one task runner per test, message boxes recorded instead of shown, and
people who can sign in (on every store backend, through the ``ctx`` fixture)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from services.auth import MfaStep, Session, operator_for, sign_in
from services.context import Context
from ui import alerts
from ui.task_runner import TaskRunner

PASSWORD = "correct horse battery staple"


@dataclass
class Alerts:
    """What would have been shown in message boxes."""

    errors: list[str] = field(default_factory=list)
    internal: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    confirm_answer: bool = True
    confirmations: list[str] = field(default_factory=list)


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> Alerts:
    record = Alerts()
    monkeypatch.setattr(alerts, "show_error",
                        lambda _parent, text, title="": record.errors.append(text))
    monkeypatch.setattr(alerts, "show_internal_error",
                        lambda _parent, kind: record.internal.append(kind))
    monkeypatch.setattr(alerts, "show_info",
                        lambda _parent, text, title="", detail="": record.infos.append(text))

    def confirm(_parent: object, text: str, action: str, title: str = "") -> bool:
        record.confirmations.append(text)
        return record.confirm_answer

    monkeypatch.setattr(alerts, "confirm", confirm)
    return record


@pytest.fixture
def runner(qapp: object, shown: Alerts) -> Iterator[TaskRunner]:
    task_runner = TaskRunner()
    yield task_runner
    # Workers may still hold the store: finish before the ctx fixture closes it.
    assert task_runner.wait_for_done(30_000)
    task_runner.deleteLater()


@pytest.fixture
def session_for(ctx: Context, make_person: Callable[..., object]) -> Callable[..., Session]:
    """A signed-in session of a new person with the given tool roles.

    The password is checked by ``sign_in``; the second factor is taken as proved (the session
    is ``VERIFIED``), as if the person had entered their authenticator code, so that pages of
    privileged roles work. The MFA wizard's own tests enrol for real.
    """

    def make(*roles: str, org: str = "XOS", email: str | None = None) -> Session:
        person = make_person(*roles, org=org, password=PASSWORD, email=email)
        session = sign_in(ctx, person.login_id, PASSWORD)  # type: ignore[attr-defined]
        return replace(session, mfa=MfaStep.VERIFIED, enrol_by=None,
                       operator=replace(operator_for(session.identity), mfa_verified=True))

    return make


def wait_idle(qtbot: QtBot, runner: TaskRunner) -> None:
    qtbot.waitUntil(lambda: not runner.busy, timeout=30_000)


def mailed_codes(ctx: Context, address: str) -> list[str]:
    """The reset codes mailed to an address, oldest first, read from the sealed outbox as the
    mail would be (as in tests/test_reset.py)."""
    from services.store.schema import outbox

    with ctx.store.read() as conn:
        rows = conn.execute(select(outbox.c.body_sealed).where(
            outbox.c.to_address == address, outbox.c.kind == "reset_link")
            .order_by(outbox.c.id)).all()
    codes: list[str] = []
    for (sealed,) in rows:
        body = ctx.vault.decrypt(sealed, "outbox-body").decode()
        codes.extend(dict.fromkeys(re.findall(r"[A-Za-z0-9_-]{43}", body)))
    return codes


def save_screenshot(widget: QWidget, name: str, folder: Path) -> Path:
    """Render ``widget`` to ``name``.png for review: under GATEHOUSE_SCREENSHOT_DIR when set,
    else the test's own temporary folder."""
    target = Path(os.environ.get("GATEHOUSE_SCREENSHOT_DIR") or folder)
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{name}.png"
    image = widget.grab()
    assert not image.isNull() and image.width() > 100
    assert image.save(str(path))
    return path
