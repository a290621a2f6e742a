"""The password policy engine: evaluate a password against ``policies/password.toml``.

``evaluate`` runs in bounded time and is what a live strength meter calls; ``check_history``
(argon2id verifications, ~70 ms each) and ``validate_new_password`` (everything) run when a
password is submitted. ``compare`` shows what one policy changes against another.
"""

from services.passwords.compare import Comparison, PolicyTally, compare
from services.passwords.context import PasswordContext
from services.passwords.evaluate import (
    default_policy,
    evaluate,
    validate_new_password,
    warm_up,
)
from services.passwords.history import check_history
from services.passwords.outcome import Evaluation, Failure

__all__ = [
    "Comparison",
    "Evaluation",
    "Failure",
    "PasswordContext",
    "PolicyTally",
    "check_history",
    "compare",
    "default_policy",
    "evaluate",
    "validate_new_password",
    "warm_up",
]
