"""What a password check returns: failed rules as codes and sentences, never the password."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Failure:
    """One broken rule: a stable ``code`` for scripts and a sentence for the person."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Evaluation:
    """The verdict on one password under one policy. Holds nothing derived from the text
    except its length, the strength estimate and which rules it breaks."""

    accepted: bool
    score: int  # 0–4 (zxcvbn's scale)
    failures: tuple[Failure, ...]
    suggestions: tuple[str, ...]
    guesses_log10: float
    estimate_complete: bool  # False: the guesses are a lower bound (see strength.py)
    crack_time_seconds: float  # offline attack on the argon2id hash at 10^4 guesses/s
    crack_time_display: str
    length: int  # code points after NFC
    min_length: int
    max_length: int
    banned_points: int | None  # None when the banned-terms rule is off
    banned_points_needed: int | None
    policy: str

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.failures)

    def with_failure(self, failure: Failure) -> Evaluation:
        return replace(self, accepted=False, failures=(*self.failures, failure))

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "score": self.score,
            "failures": [f.as_dict() for f in self.failures],
            "suggestions": list(self.suggestions),
            "guesses_log10": round(self.guesses_log10, 2),
            "estimate_complete": self.estimate_complete,
            "crack_time_seconds": self.crack_time_seconds,
            "crack_time_display": self.crack_time_display,
            "length": self.length,
            "min_length": self.min_length,
            "max_length": self.max_length,
            "banned_points": self.banned_points,
            "banned_points_needed": self.banned_points_needed,
            "policy": self.policy,
        }
