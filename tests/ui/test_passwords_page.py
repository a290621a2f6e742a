"""The Passwords page: the policy in words, the live strength meter, who sees the comparison."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from services.auth import Session
from services.context import Context
from tests.ui.conftest import save_screenshot, wait_idle
from ui.appearance import RESOURCES
from ui.main_window import MainWindow
from ui.password_check import LivePasswordCheck
from ui.passwords_page import PasswordsPage
from ui.strength_meter import PROMPT, SCORE_COLOURS
from ui.task_runner import TaskRunner

PHRASE_START = "copper lantern"  # 14 characters: one short of the minimum without MFA
PHRASE_END = " meadow violin"


def _page(qtbot: QtBot, session: Session, runner: TaskRunner) -> PasswordsPage:
    page = PasswordsPage(session, runner)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.policy_shown, timeout=30_000):
        page.activate()
    return page


def _settled(check: LivePasswordCheck) -> Callable[[], bool]:
    return lambda: not check.pending and check.latest is not None


def _every_text(root: QWidget) -> list[str]:
    """Everything the page shows or tells assistive technology, except the field itself."""
    texts = []
    for widget in [root, *root.findChildren(QWidget)]:
        texts += [widget.toolTip(), widget.accessibleName(), widget.accessibleDescription(),
                  widget.statusTip(), widget.whatsThis()]
        if isinstance(widget, QLabel):
            texts.append(widget.text())
    return texts


def test_meter_follows_typing_and_never_shows_the_password(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        session_for: Callable[..., Session], tmp_path: Path) -> None:
    page = _page(qtbot, session_for(), runner)
    tester, meter = page.tester, page.tester.meter
    assert meter.verdict.text() == PROMPT and meter.failures.isHidden()

    qtbot.keyClicks(tester.field.edit, PHRASE_START)
    qtbot.waitUntil(_settled(tester.check), timeout=30_000)
    assert meter.evaluation is not None and not meter.evaluation.accepted
    assert "too_short" in meter.evaluation.codes
    assert "Too short: 14 characters; use at least 15." in meter.failures.text()
    assert not meter.failures.isHidden()
    assert meter.verdict.text().endswith("not met.")
    assert meter.verdict.property("tone") != "good"
    weak_score = meter.bar.score
    # Refused: the bar shows the score but never in green, whatever the estimate says.
    assert weak_score == 3 and meter.bar.colour.name() == SCORE_COLOURS[2]
    assert PHRASE_START not in " ".join(_every_text(page))
    page.setStyleSheet((RESOURCES / "style.qss").read_text(encoding="utf-8"))  # as the app
    page.resize(1100, 760)
    save_screenshot(page, "passwords_page", tmp_path)

    # Keep typing: the rule's sentence goes away and the verdict turns.
    qtbot.keyClicks(tester.field.edit, PHRASE_END)
    qtbot.waitUntil(lambda: _settled(tester.check)() and meter.evaluation is not None
                    and meter.evaluation.accepted, timeout=30_000)
    assert meter.failure_messages == [] and meter.failures.isHidden()
    assert meter.verdict.text().endswith("meets the password policy.")
    assert meter.verdict.property("tone") == "good"
    assert meter.bar.score is not None and weak_score is not None
    assert meter.bar.score > weak_score
    assert meter.bar.colour.name() == SCORE_COLOURS[meter.bar.score]
    assert "guess it" in meter.crack_time.text()
    typed = PHRASE_START + PHRASE_END
    assert tester.field.text() == typed
    for text in _every_text(page):
        assert typed not in text and PHRASE_START not in text

    # Emptying the field brings the prompt back at once, with no evaluation.
    tester.field.edit.clear()
    assert meter.verdict.text() == PROMPT and meter.evaluation is None
    wait_idle(qtbot, runner)


def test_the_persons_own_details_count_against_them(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        session_for: Callable[..., Session]) -> None:
    session = session_for()
    page = _page(qtbot, session, runner)
    surname = session.identity.family_name.lower()  # e.g. "person1"
    qtbot.keyClicks(page.tester.field.edit, f"quiet {surname} harbour walnut")
    qtbot.waitUntil(_settled(page.tester.check), timeout=30_000)
    assert "Contains your surname." in page.tester.meter.failure_messages
    wait_idle(qtbot, runner)


def test_typing_fast_sends_one_evaluation_and_stale_answers_are_dropped(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        session_for: Callable[..., Session]) -> None:
    page = _page(qtbot, session_for(), runner)
    check = page.tester.check
    seen: list[object] = []
    check.evaluated.connect(seen.append)
    submitted: list[object] = []
    original = runner.submit

    def counting(*args: object, **kwargs: object) -> object:
        submitted.append(args[0])
        return original(*args, **kwargs)  # type: ignore[arg-type]

    runner.submit = counting  # type: ignore[method-assign]
    qtbot.keyClicks(page.tester.field.edit, "a long run of keystrokes")  # no pause
    qtbot.waitUntil(_settled(check), timeout=30_000)
    assert len(submitted) == 1 and len(seen) == 1

    # An answer for text that has changed meanwhile is not shown.
    check.latest = None
    page.tester.field.edit.setText("first text")
    check._timer.stop()
    check._evaluate()  # on its way...
    page.tester.field.edit.setText("second text")  # ...but the text moved on
    check._timer.stop()  # and its own evaluation never starts
    wait_idle(qtbot, runner)
    assert check.latest is None and len(seen) == 1
    runner.submit = original  # type: ignore[method-assign]


def test_mfa_box_lowers_the_minimum_and_rechecks(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        session_for: Callable[..., Session]) -> None:
    page = _page(qtbot, session_for(), runner)
    tester = page.tester
    qtbot.keyClicks(tester.field.edit, "k7#Qz!pW2rLm")  # 12 random characters
    qtbot.waitUntil(_settled(tester.check), timeout=30_000)
    assert tester.meter.evaluation is not None
    assert tester.meter.evaluation.codes == ("too_short",)
    tester.mfa.setChecked(True)
    qtbot.waitUntil(lambda: _settled(tester.check)() and tester.meter.evaluation is not None
                    and tester.meter.evaluation.accepted, timeout=30_000)
    assert tester.meter.evaluation.min_length == 12
    wait_idle(qtbot, runner)


def test_show_button_reveals_and_clearing_hides_again(qtbot: QtBot, ctx: Context,
                                                      runner: TaskRunner,
                                                      session_for: Callable[..., Session]
                                                      ) -> None:
    page = _page(qtbot, session_for(), runner)
    field = page.tester.field
    assert not field.shown and field.show_button.accessibleName() == \
        "Show the password to try"
    qtbot.keyClicks(field.edit, "secret words")
    field.show_button.click()
    assert field.shown and field.show_button.accessibleName() == "Hide the password to try"
    field.clear()
    assert not field.shown and field.text() == ""
    assert field.show_button.focusPolicy() & Qt.FocusPolicy.TabFocus  # reachable by keyboard
    wait_idle(qtbot, runner)


def test_policy_viewer_lists_every_rule_including_those_off(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        session_for: Callable[..., Session]) -> None:
    page = _page(qtbot, session_for(), runner)
    rows = {title: (text, on) for title, text, on in page.policy_view.rows}
    assert list(rows) == ["Length", "Strength", "Your own details", "Banned words",
                          "Common passwords", "History", "Character mix", "Expiry",
                          "Breached passwords"]
    length, on = rows["Length"]
    assert on and "At least 15 characters, or 12 for accounts with multi-factor " \
        "authentication; at most 128" in length
    assert rows["Strength"] == ("Estimated strength at least 3 of 4, judged with your own "
                                "names, email and organisation in mind.", True)
    assert rows["History"] == ("Must differ from your last 5 passwords.", True)
    assert rows["Common passwords"][0] == ("Must not be one of the 30,000 most common "
                                           "passwords.")
    for title in ("Character mix", "Expiry", "Breached passwords"):
        text, on = rows[title]
        assert not on and text.startswith("Off:")
    assert page.policy_view.heading.text() == "Gatehouse password policy 2026"
    shown = [label.text() for label in page.policy_view.findChildren(QLabel)]
    assert all(text in shown for text, _on in rows.values())
    wait_idle(qtbot, runner)


@pytest.mark.parametrize(("roles", "compares"), [
    (("platform_admin",), True),
    (("security_reviewer",), True),
    (("lso",), False),
    ((), False),
])
def test_everyone_gets_the_page_and_admins_and_reviewers_the_comparison(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, session_for: Callable[..., Session],
        roles: tuple[str, ...], compares: bool) -> None:
    window = MainWindow(ctx, session_for(*roles), runner)
    qtbot.addWidget(window)
    assert "passwords" in window.keys
    page = window.show_page("passwords")
    assert isinstance(page, PasswordsPage)
    tabs = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert tabs == (["Policy and tester", "Old versus new policy"] if compares
                    else ["Policy and tester"])
    assert (page.comparison is not None) is compares
    assert ("intake" in window.keys) is (roles == ("platform_admin",))
    wait_idle(qtbot, runner)
