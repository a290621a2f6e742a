"""Start-up: the sign-in dialog first, the store behind it, a first run seeded with demo
accounts shown once, and the key-file offer when there is no keyring (never plaintext)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

import services.vault
from services.errors import VaultUnavailable
from services.vault import NO_KEYRING_HELP, KeyAccess
from ui.app import StartupController, open_for_desktop
from ui.demo_credentials_dialog import DemoCredentialsDialog
from ui.key_file_dialog import KeyFileDialog
from ui.task_runner import TaskRunner

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "a long enough passphrase"


@pytest.fixture
def embedded_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No GATEHOUSE_DB: the embedded store lives under a temporary XDG data directory."""
    monkeypatch.delenv("GATEHOUSE_DB", raising=False)
    monkeypatch.delenv("GATEHOUSE_KEY_FILE", raising=False)
    monkeypatch.delenv("GATEHOUSE_KEY_PASSPHRASE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "gatehouse" / "gatehouse.db"


def test_first_run_seeds_demo_accounts_once(embedded_store: Path) -> None:
    assert not embedded_store.exists()
    opened = open_for_desktop(None)
    try:
        assert embedded_store.exists() and opened.has_accounts
        assert [a.role for a in opened.demo_accounts] == ["platform_admin", "security_reviewer",
                                                          "lso"]
        passwords = {a.password for a in opened.demo_accounts}
        assert len(passwords) == 3 and all(len(p) >= 16 for p in passwords)
        with opened.ctx.store.read() as conn:
            dump = "\n".join(conn.connection.iterdump())  # type: ignore[attr-defined]
        assert not any(p in dump for p in passwords)  # only hashes are stored
    finally:
        opened.ctx.close()
    again = open_for_desktop(None)
    try:
        assert again.demo_accounts == [] and again.has_accounts
    finally:
        again.ctx.close()


def test_a_named_store_is_never_seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEHOUSE_DB", f"sqlite:///{tmp_path / 'named.db'}")
    opened = open_for_desktop(None)
    try:
        assert opened.demo_accounts == [] and not opened.has_accounts
    finally:
        opened.ctx.close()


def test_no_keyring_offers_a_key_file_then_signs_in(
        qtbot: QtBot, embedded_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], runner: TaskRunner) -> None:
    def no_keyring() -> None:
        raise VaultUnavailable(NO_KEYRING_HELP)

    monkeypatch.setattr(services.vault, "_usable_keyring", no_keyring)
    key_file = tmp_path / "chosen.key"
    problems: list[str] = []

    def choose(cls: type, problem: str, default_path: Path, parent: object = None) -> KeyAccess:
        problems.append(problem)
        return KeyAccess(key_file=key_file, passphrase=PASSPHRASE)

    monkeypatch.setattr(KeyFileDialog, "ask", classmethod(choose))
    controller = StartupController(runner)
    controller.start()
    dialog = controller.dialog
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: controller.ctx is not None, timeout=60_000)
    assert problems == [NO_KEYRING_HELP]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    printed = capsys.readouterr().out
    shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, DemoCredentialsDialog)]
    assert len(shown) == 1 and shown[0].isVisible()
    admin_line = next(line for line in printed.splitlines() if "admin@xoserve.example" in line)
    password = admin_line.split()[-1]
    assert dialog.email.text() == "admin@xoserve.example"

    dialog.password.setText(password)
    dialog.accept_terms.setChecked(True)
    dialog.sign_in_button.click()
    # A first sign-in is in the MFA grace period (issue 6): the wizard is offered, with Later.
    qtbot.waitUntil(lambda: dialog.later_button.isVisible() and dialog.later_button.isEnabled(),
                    timeout=30_000)
    dialog.later_button.click()
    qtbot.waitUntil(lambda: controller.window is not None and controller.window.isVisible(),
                    timeout=30_000)
    window = controller.window
    assert window is not None
    qtbot.addWidget(window)
    # Not verified: the pages of privileged changes (the reset-request queue) stay hidden
    # until the admin enrols, and a banner offers the wizard.
    assert window.keys == ["users", "orgs", "migration", "passwords", "mfa", "compliance",
                           "audit", "account"]
    assert window.mfa_banner is not None and window.mfa_banner.isVisible()
    qtbot.waitUntil(lambda: not runner.busy, timeout=30_000)
    shown[0].close()
    controller.shutdown()


def test_declining_the_key_file_explains_what_to_do(
        qtbot: QtBot, embedded_store: Path, monkeypatch: pytest.MonkeyPatch,
        runner: TaskRunner) -> None:
    def no_keyring() -> None:
        raise VaultUnavailable(NO_KEYRING_HELP)

    monkeypatch.setattr(services.vault, "_usable_keyring", no_keyring)
    monkeypatch.setattr(KeyFileDialog, "ask", classmethod(lambda cls, *a, **k: None))
    controller = StartupController(runner)
    controller.start()
    dialog = controller.dialog
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "master key" in dialog.store_status.text(), timeout=30_000)
    assert dialog.store_status.text().startswith(
        "Gatehouse cannot open the store without its master key.")
    dialog.accept_terms.setChecked(True)
    assert not dialog.sign_in_button.isEnabled()
    assert controller.ctx is None


def test_key_file_dialog_checks_the_passphrase(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = KeyFileDialog(NO_KEYRING_HELP, tmp_path / "new.key")
    qtbot.addWidget(dialog)
    dialog.passphrase.setText("too short")
    assert not dialog.ok_button.isEnabled()
    assert "at least 12 characters" in dialog.hint.text()
    dialog.passphrase.setText(PASSPHRASE)
    assert not dialog.ok_button.isEnabled()  # a new file: type it twice
    dialog.repeat.setText(PASSPHRASE)
    assert dialog.ok_button.isEnabled()
    existing = tmp_path / "existing.key"
    existing.write_text("{}")
    dialog.path.setText(str(existing))
    assert dialog.repeat.isHidden() and dialog.ok_button.isEnabled()


def test_bench_ready_hook_prints_and_exits(tmp_path: Path) -> None:
    env = {**os.environ, "GATEHOUSE_BENCH_READY": "1", "QT_QPA_PLATFORM": "offscreen",
           "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("GATEHOUSE_DB", None)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(REPO / "main.py")], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["READY"]
    assert elapsed < 10  # the real target (1.5 s) is measured by the start-up benchmark
    assert not (tmp_path / "data" / "gatehouse" / "gatehouse.db").exists()
