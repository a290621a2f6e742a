"""Forcing a password reset from the Users detail panel, and who may."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from services.auth import Session, sign_in
from services.authz import SYSTEM, Operator
from services.context import Context
from services.errors import SignInFailed
from services.store.schema import audit_event
from services.users import get_identity
from tests.ui.conftest import PASSWORD, Alerts, mailed_codes, wait_idle
from ui.reason_dialog import ReasonDialog
from ui.task_runner import TaskRunner
from ui.users_page import UsersPage


def _page(qtbot: QtBot, ctx: Context, session: Session, runner: TaskRunner) -> UsersPage:
    page = UsersPage(ctx, session.operator, runner)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.index_loaded, timeout=30_000):
        page.activate()
    return page


def _show(qtbot: QtBot, page: UsersPage, subject: str) -> None:
    with qtbot.waitSignal(page.detail_shown, timeout=30_000):
        assert page.select_subject(subject)


def test_admin_forces_a_reset_with_a_reason(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                            shown: Alerts,
                                            make_person: Callable[..., Operator],
                                            session_for: Callable[..., Session],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    person = make_person(org="NWGS", password=PASSWORD)
    email = get_identity(ctx, SYSTEM, person.subject).email
    page = _page(qtbot, ctx, session_for("platform_admin"), runner)
    _show(qtbot, page, person.subject)
    button = page.panel.force_reset_button
    assert button.isVisible() and button.isEnabled()

    monkeypatch.setattr(ReasonDialog, "ask", classmethod(lambda cls, *a, **k: None))
    button.click()  # cancelled: nothing changes
    assert not runner.busy and get_identity(ctx, SYSTEM, person.subject).status == "active"

    asked: list[tuple[str, str]] = []

    def reason(cls: type, title: str, explanation: str, action: str, **_kw: object) -> str:
        asked.append((title, explanation))
        return "Password seen on a shared screen"

    monkeypatch.setattr(ReasonDialog, "ask", classmethod(reason))
    with qtbot.waitSignal(page.detail_shown, timeout=30_000):
        button.click()
    assert "you never see or choose the new password" in asked[0][1]
    assert page.panel.values["status"].text() == "Must set password"
    assert shown.infos and shown.infos[0].startswith(f"{person.login_id} must now choose a new "
                                                     "password.")
    assert len(mailed_codes(ctx, email)) == 1
    with pytest.raises(SignInFailed):
        sign_in(ctx, person.login_id, PASSWORD)  # the old password stopped working
    with ctx.store.read() as conn:
        reasons = conn.execute(select(audit_event.c.reason).where(
            audit_event.c.action == "reset.force")).scalars().all()
    assert reasons == ["Password seen on a shared screen"]
    # Still offered: a person waiting for a new password can be sent a fresh code.
    assert button.isVisible()


@pytest.mark.parametrize(("roles", "org", "offered"), [
    (("lso",), "NWGS", True),  # the LSO of the person's own organisation
    (("security_reviewer",), "XOS", False),  # read-only
])
def test_who_is_offered_a_forced_reset(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                       make_person: Callable[..., Operator],
                                       session_for: Callable[..., Session],
                                       roles: tuple[str, ...], org: str,
                                       offered: bool) -> None:
    person = make_person(org="NWGS", password=PASSWORD)
    page = _page(qtbot, ctx, session_for(*roles, org=org), runner)
    _show(qtbot, page, person.subject)
    assert page.panel.force_reset_button.isVisible() is offered
    wait_idle(qtbot, runner)


def test_an_lso_cannot_force_a_reset_on_an_admin_of_their_organisation(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, make_person: Callable[..., Operator],
        session_for: Callable[..., Session]) -> None:
    admin = make_person("platform_admin", org="NWGS")
    colleague = make_person(org="NWGS")
    page = _page(qtbot, ctx, session_for("lso", org="NWGS"), runner)
    _show(qtbot, page, colleague.subject)
    panel = page.panel
    assert panel.force_reset_button.isVisible()
    assert panel.rename_button.isVisible() and panel.disable_button.isVisible()
    _show(qtbot, page, admin.subject)
    # services.users.require_manage: none of the changes is offered on a platform admin.
    assert panel.force_reset_button.isHidden()
    assert panel.rename_button.isHidden() and panel.disable_button.isHidden()
    wait_idle(qtbot, runner)


def test_not_offered_on_oneself(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                session_for: Callable[..., Session]) -> None:
    session = session_for("platform_admin")
    page = _page(qtbot, ctx, session, runner)
    _show(qtbot, page, session.operator.subject)
    assert page.panel.force_reset_button.isHidden()  # that is Change password, under My account
    wait_idle(qtbot, runner)


def test_reason_dialog_requires_a_bounded_reason(qtbot: QtBot) -> None:
    dialog = ReasonDialog("Force password reset", "Why?", "Force reset", danger=True)
    qtbot.addWidget(dialog)
    assert not dialog.ok_button.isEnabled()
    assert dialog.hint.text() == "Type a reason to continue."
    qtbot.keyClicks(dialog.reason, "  suspected   compromise ")
    assert dialog.ok_button.isEnabled() and dialog.text() == "suspected compromise"
    dialog.reason.setPlainText("x" * 501)
    assert not dialog.ok_button.isEnabled()
    assert dialog.hint.text() == "501 characters: shorten it to 500 or fewer."
    assert dialog.reason.tabChangesFocus()  # Tab leaves the box, as in any other field
