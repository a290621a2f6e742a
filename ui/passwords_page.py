"""The Passwords page: the policy in words, a live tester, and (for admins and reviewers) what
the updated policy changes against the legacy one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from ui.password_tester import PasswordTester
from ui.policy_comparison_panel import PolicyComparisonPanel
from ui.policy_view import PolicyView
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from policies.password_policy import PasswordPolicy
    from services.auth import Session
    from services.authz import Operator


def may_compare(op: Operator) -> bool:
    """Admins and reviewers explain the policy change to the organisation; the comparison
    reads no store data, so this is about relevance, not secrecy."""
    from services.authz import Role

    return bool(op.roles & {Role.PLATFORM_ADMIN, Role.SECURITY_REVIEWER})


class PasswordsPage(QWidget):
    policy_shown = Signal()

    def __init__(self, session: Session, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._started = False
        title = QLabel("Passwords")
        title.setObjectName("pageTitle")
        self.policy_view = PolicyView()
        self.tester = PasswordTester(runner, session.identity)
        rules_tab = QWidget()
        rules_layout = QHBoxLayout(rules_tab)
        rules_layout.setContentsMargins(0, 8, 0, 0)
        rules_layout.setSpacing(12)
        rules_layout.addWidget(self.policy_view, 1)
        rules_layout.addWidget(self.tester, 1)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(rules_tab, "Policy and tester")
        self.comparison: PolicyComparisonPanel | None = None
        if may_compare(session.operator):
            self.comparison = PolicyComparisonPanel(runner)
            self.tabs.addTab(self.comparison, "Old versus new policy")
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.tabs, 1)
        self.setFocusProxy(self.tester)

    def activate(self) -> None:
        """The first time the page is shown: read the policy and warm up the engine."""
        if self._started:
            return
        self._started = True

        def work(_control: TaskControl) -> PasswordPolicy:
            from services.passwords import default_policy, warm_up

            policy = default_policy()
            warm_up(policy)  # the tester's first keystroke then answers at once
            return policy

        self._runner.submit(work, owner=self, on_result=self._policy_arrived)

    def _policy_arrived(self, policy: PasswordPolicy) -> None:
        self.policy_view.show_policy(policy)
        self.policy_shown.emit()
