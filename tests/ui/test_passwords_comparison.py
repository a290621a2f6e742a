"""Old versus new policy on the Passwords page: the run, its table and chart, and cancelling."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from policies.loader import POLICY_DIR
from policies.password_policy import load_password_policy
from services.passwords import PasswordContext, compare, default_policy
from services.passwords.candidates import builtin_sample, read_candidates
from tests.ui.conftest import Alerts, wait_idle
from ui.comparison_model import ComparisonModel
from ui.policy_comparison_chart import ComparisonChart
from ui.policy_comparison_panel import PolicyComparisonPanel, summary_text
from ui.task_runner import TaskRunner

CANDIDATES = ["password", "Summer2026!", "copper lantern meadow violin quill", "Xoserve2021!",
              "aaaaaaaaaaaaaaaa", "k7#Qz!pW2rLmX9$vB4nT"]


def _expected(candidates: list[str]) -> object:
    old = load_password_policy(POLICY_DIR / "password-legacy.toml")
    return compare([old, default_policy()], candidates, PasswordContext())


def _panel(qtbot: QtBot, runner: TaskRunner) -> PolicyComparisonPanel:
    panel = PolicyComparisonPanel(runner)
    qtbot.addWidget(panel)
    panel.show()
    return panel


def _choose(panel: PolicyComparisonPanel, monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(PolicyComparisonPanel, "ask_candidates_file",
                        staticmethod(lambda parent: path))
    panel.choose_button.click()


def test_a_file_of_candidates_is_compared(qtbot: QtBot, runner: TaskRunner, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    candidates = tmp_path / "candidates.txt"
    candidates.write_text("\n".join(CANDIDATES) + "\n\n", encoding="utf-8")
    panel = _panel(qtbot, runner)
    panel.use_sample.setChecked(False)
    assert not panel.run_button.isEnabled()  # nothing to compare yet
    _choose(panel, monkeypatch, candidates)
    assert panel.run_button.isEnabled() and "candidates.txt" in panel.file_label.text()
    progress: list[int] = []
    panel.progress.valueChanged.connect(progress.append)
    with qtbot.waitSignal(panel.compared, timeout=60_000) as signal:
        panel.run_button.click()
    result = signal.args[0]
    assert result == _expected(CANDIDATES)
    assert result.candidates == len(CANDIDATES)
    assert progress and progress[-1] == len(CANDIDATES)
    assert panel.summary.text() == summary_text(result)
    assert panel.progress.isHidden() and panel.run_button.isEnabled()

    # The table holds, per rule, what each policy's tally says.
    model = panel.model
    tallies = [dict(t.rules) for t in result.tallies]
    for row, code in enumerate(model.codes()):
        assert model.data(model.index(row, 1)) == code
        assert model.data(model.index(row, 2)) == f"{tallies[0].get(code, 0):,}"
        assert model.data(model.index(row, 3)) == f"{tallies[1].get(code, 0):,}"
    assert set(model.codes()) == set(tallies[0]) | set(tallies[1])
    assert {"too_common", "composition", "too_short"} <= set(model.codes())
    # The view shows the most rejections under the new policy first.
    proxy = panel.proxy
    new_counts = [int(proxy.data(proxy.index(r, 3))) for r in range(proxy.rowCount())]
    assert new_counts == sorted(new_counts, reverse=True)

    # The chart draws the same figures, and says them in words for screen readers.
    assert panel.chart.comparison == result
    old, new = result.tallies
    description = panel.chart.accessibleDescription()
    assert f"Old policy ({old.policy}): {old.accepted} accepted, {old.rejected} rejected." \
        in description
    assert f"New policy ({new.policy}): {new.accepted} accepted" in description
    assert panel.chart.grab().width() > 0  # paints without error

    # Counts only: no candidate appears anywhere on screen.
    shown = [label.text() for label in panel.findChildren(QLabel)]
    shown += [w.toolTip() + w.accessibleDescription() for w in panel.findChildren(QWidget)]
    shown += [str(model.data(model.index(r, c))) for r in range(model.rowCount())
              for c in range(model.columnCount())]
    for candidate in CANDIDATES[1:]:  # "password" itself is a word the page uses
        assert not any(candidate in text for text in shown)

    panel.remove_button.click()
    assert panel.candidates_file is None and not panel.run_button.isEnabled()


def test_the_built_in_sample_runs_with_progress(qtbot: QtBot, runner: TaskRunner) -> None:
    panel = _panel(qtbot, runner)
    seen: list[tuple[int, int]] = []
    panel.progress.valueChanged.connect(
        lambda value: seen.append((value, panel.progress.maximum())))
    with qtbot.waitSignal(panel.compared, timeout=120_000) as signal:
        panel.run()
    assert signal.args[0].candidates == len(builtin_sample())
    assert seen[-1] == (len(builtin_sample()), len(builtin_sample()))
    assert signal.args[0] == _expected(list(builtin_sample()))


def test_cancel_drops_the_run(qtbot: QtBot, runner: TaskRunner) -> None:
    panel = _panel(qtbot, runner)
    compared: list[object] = []
    panel.compared.connect(compared.append)
    panel.run()
    assert not panel.run_button.isEnabled() and panel.cancel_button.isVisible()
    panel.cancel_button.click()
    wait_idle(qtbot, runner)
    assert compared == [] and panel.model.rowCount() == 0
    assert panel.summary.text().startswith("The comparison was cancelled")
    assert panel.run_button.isEnabled() and panel.cancel_button.isHidden()


def test_an_unreadable_file_is_explained(qtbot: QtBot, runner: TaskRunner, shown: Alerts,
                                         tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("passw\u00f6rd\n".encode("latin-1"))
    panel = _panel(qtbot, runner)
    panel.use_sample.setChecked(False)
    _choose(panel, monkeypatch, bad)
    panel.run()
    wait_idle(qtbot, runner)
    assert shown.errors == ["latin1.txt, line 1: not valid UTF-8; save the file as UTF-8 text "
                            "(one candidate password per line)."]
    assert panel.run_button.isEnabled()


def test_the_built_in_sample_is_fixed() -> None:
    sample = builtin_sample()
    assert len(sample) > 400
    assert sample[:3] == ("123456", "password", "12345678")  # the most common first
    assert "Summer" in " ".join(sample)
    builtin_sample.cache_clear()
    assert builtin_sample() == sample  # the same on every run


def test_read_candidates_skips_empty_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("\ufeffone\r\n\r\ntwo words\n", encoding="utf-8")
    assert read_candidates(path) == ["one", "two words"]


def test_comparison_model_and_chart_pass_the_model_tester(qtmodeltester: object,
                                                          qtbot: QtBot) -> None:
    model = ComparisonModel()
    qtmodeltester.check(model)  # type: ignore[attr-defined]  # empty
    result = _expected(CANDIDATES)
    model.set_comparison(result)  # type: ignore[arg-type]
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert model.rowCount() > 0 and model.columnCount() == 5
    assert model.headerData(2, Qt.Orientation.Horizontal) == "Old policy"
    chart = ComparisonChart()
    qtbot.addWidget(chart)
    chart.set_comparison(result)  # type: ignore[arg-type]
    chart.resize(chart.sizeHint())
    assert chart.sizeHint().height() > 200
    assert not chart.grab().isNull()
