"""Start-up of the desktop application.

The sign-in dialog is on screen first; the store opens behind it, through the task runner
(opening runs migrations and unlocks the vault; a first run also seeds demo data and hashes
passwords), so nothing slow happens before the person sees a window. Modules that take long to
import (SQLAlchemy, cryptography, the services) are imported there too, not here.

First run: with no ``GATEHOUSE_DB`` and an embedded store that holds no identity yet (it did not
exist, or an earlier start stopped before seeding it), the store is filled with demo data and the
demo accounts' fresh passwords are printed once and shown once; only their hashes are stored.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

from ui.appearance import apply_style
from ui.task_runner import TaskRunner

if TYPE_CHECKING:
    from services.auth import Session
    from services.context import Context
    from services.demo import DemoAccount
    from services.vault import KeyAccess
    from ui.main_window import MainWindow
    from ui.sign_in_dialog import SignInDialog

BENCH_READY_ENV = "GATEHOUSE_BENCH_READY"


@dataclass
class OpenedStore:
    ctx: Context
    has_accounts: bool
    demo_accounts: list[DemoAccount] = field(default_factory=list)


def open_for_desktop(access: KeyAccess | None) -> OpenedStore:
    """Open the store named by ``GATEHOUSE_DB`` (else the embedded one); seed a first run.

    Runs on a worker thread. ``access`` None means the OS keyring (or the key file named by
    ``GATEHOUSE_KEY_FILE``).
    """
    from services.context import open_context
    from services.setup import has_identities

    embedded = not os.environ.get("GATEHOUSE_DB")
    ctx = open_context(None, access=access)
    try:
        if embedded and not has_identities(ctx):
            from services.authz import SYSTEM
            from services.demo import first_run

            accounts = first_run(ctx, SYSTEM)
            return OpenedStore(ctx, has_accounts=True, demo_accounts=accounts)
        return OpenedStore(ctx, has_accounts=has_identities(ctx))
    except BaseException:
        ctx.close()
        raise


def default_key_file() -> Path:
    chosen = os.environ.get("GATEHOUSE_KEY_FILE")
    if chosen:
        return Path(chosen).expanduser()
    from platformdirs import user_data_path

    return user_data_path("gatehouse", appauthor=False) / "gatehouse.key"


class StartupController(QObject):
    """Sign-in dialog first, the store behind it, then the main window."""

    def __init__(self, runner: TaskRunner, *, bench_ready: bool = False,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.bench_ready = bench_ready
        self.ctx: Context | None = None
        self.dialog: SignInDialog | None = None
        self.window: MainWindow | None = None
        self._store_problem = False

    def start(self) -> None:
        from ui.sign_in_dialog import SignInDialog

        self.dialog = SignInDialog(self.runner)
        self.dialog.first_shown.connect(self._dialog_shown)
        self.dialog.signed_in.connect(self._signed_in)
        self.dialog.rejected.connect(QApplication.quit)
        self.dialog.show()

    def _dialog_shown(self) -> None:
        if self.bench_ready:
            # The start-up benchmark times launch to this point, then the process ends.
            print("READY", flush=True)
            QApplication.exit(0)
            return
        self.open_store(None)

    def open_store(self, access: KeyAccess | None) -> None:
        self._store_problem = False
        self.runner.submit(lambda _control: open_for_desktop(access), owner=self.dialog,
                           on_result=self._store_opened, on_error=self._store_failed,
                           on_done=self._store_attempt_done)

    def _store_failed(self, exc: Exception) -> None:
        from services.errors import VaultUnavailable
        from ui.key_file_dialog import KeyFileDialog

        assert self.dialog is not None
        if isinstance(exc, VaultUnavailable):
            # DESIGN.md: say why, offer an explicit key file; never fall back to plaintext.
            access = KeyFileDialog.ask(str(exc), default_key_file(), self.dialog)
            if access is not None:
                self.dialog.store_status.setText("Unlocking the store with the key file…")
                self.open_store(access)
                return
            self.dialog.set_store_problem(
                "Gatehouse cannot open the store without its master key. Start a keyring "
                "service, or quit and start again to choose a passphrase-protected key file.")
        else:
            self.dialog.set_store_problem(str(exc))
        self._store_problem = True

    def _store_attempt_done(self) -> None:
        if self.ctx is None and not self._store_problem and self.dialog is not None \
                and not self.runner.busy:
            self.dialog.set_store_problem("The store could not be opened (see the message); "
                                          "quit and start Gatehouse again.")

    def _store_opened(self, opened: OpenedStore) -> None:
        from ui.demo_credentials_dialog import DemoCredentialsDialog, credentials_text

        assert self.dialog is not None
        self.ctx = opened.ctx
        note = "" if opened.has_accounts else (
            "This store has no accounts yet. Create the first platform admin with: "
            "python main.py init --admin EMAIL, then sign in here.")
        suggested = opened.demo_accounts[0].email if opened.demo_accounts else ""
        self.dialog.set_context(opened.ctx, suggested_email=suggested, note=note)
        if opened.demo_accounts:
            print(credentials_text(opened.demo_accounts), flush=True)
            DemoCredentialsDialog.show_once(opened.demo_accounts, self.dialog)

    def _signed_in(self, session: Session) -> None:
        from ui.main_window import MainWindow

        assert self.ctx is not None
        previous = self.window
        self.window = MainWindow(self.ctx, session, self.runner)
        # Two-step verification set up from inside the window: its pages were built for the
        # unverified session, so a new window replaces it.
        self.window.session_changed.connect(self._signed_in)
        self.window.show()
        if previous is not None:
            previous.close()
            previous.deleteLater()

    def shutdown(self) -> None:
        self.runner.wait_for_done(30_000)
        if self.ctx is not None:
            self.ctx.close()
            self.ctx = None


def run() -> int:
    """The desktop application; returns the process exit code."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    app.setApplicationName("Gatehouse")
    apply_style(app)
    runner = TaskRunner(app)
    controller = StartupController(runner, bench_ready=os.environ.get(BENCH_READY_ENV) == "1")
    controller.start()
    try:
        return int(app.exec())
    finally:
        controller.shutdown()
