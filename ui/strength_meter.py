"""The strength meter: a bar for the 0–4 score, its words, the crack time, each broken rule.

It shows an ``Evaluation`` and nothing else, so the password itself can never reach a label
here: the service's sentences name the kind of problem, never the text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from services.passwords import Evaluation

SCORE_WORDS = ("Very weak", "Weak", "Fair", "Strong", "Very strong")
SCORE_COLOURS = ("#b42318", "#d9480f", "#b7791f", "#2b8a3e", "#0f766e")
EMPTY_COLOUR = "#e4e7eb"
REFUSED_CAP = 2  # a refused password's bar is at best the "Fair" amber
MAX_TIPS = 2
PROMPT = "Type a password to see how strong it is and which rules it meets."


class StrengthBar(QWidget):
    """Five segments: score 0 fills one, score 4 fills all five, in the score's colour — but
    never green for a password the policy refuses ("Summer2026!!" scores 3): green means
    it can be set."""

    SEGMENTS = 5

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.score: int | None = None
        self.colour = QColor(EMPTY_COLOUR)
        self.setAccessibleName("Password strength")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(240, 10)

    def minimumSizeHint(self) -> QSize:
        return QSize(100, 10)

    def set_score(self, score: int | None, *, accepted: bool = True) -> None:
        self.score = score
        self.colour = QColor(EMPTY_COLOUR if score is None
                             else SCORE_COLOURS[score if accepted else min(score, REFUSED_CAP)])
        self.setAccessibleDescription(
            "No password typed" if score is None
            else f"{SCORE_WORDS[score]}: strength {score} of 4")
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        gap = 4.0
        width = (self.width() - gap * (self.SEGMENTS - 1)) / self.SEGMENTS
        filled = -1 if self.score is None else self.score
        for segment in range(self.SEGMENTS):
            painter.setBrush(self.colour if segment <= filled else QColor(EMPTY_COLOUR))
            painter.drawRoundedRect(QRectF(segment * (width + gap), 0, width, self.height()),
                                    3, 3)
        painter.end()


def _label(name: str = "") -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)  # service sentences are never markup
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    return label


class StrengthMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = StrengthBar()
        self.verdict = _label("meterVerdict")
        self.crack_time = _label("fineprint")
        self.failures = _label("failureList")
        self.failures.setAccessibleName("Rules not met")
        self.suggestions = _label("fineprint")
        self.suggestions.setAccessibleName("Suggestions")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.bar)
        layout.addWidget(self.verdict)
        layout.addWidget(self.crack_time)
        layout.addWidget(self.failures)
        layout.addWidget(self.suggestions)
        # A form lays the meter out for a guessed width, so it may get more height than its
        # lines need: the rest goes below them, not between them.
        layout.addStretch(1)
        self.evaluation: Evaluation | None = None
        self.clear()

    @property
    def failure_messages(self) -> list[str]:
        return [f.message for f in self.evaluation.failures] if self.evaluation else []

    def clear(self) -> None:
        self.evaluation = None
        self.bar.set_score(None)
        self.verdict.setText(PROMPT)
        self._tone("")
        for label in (self.crack_time, self.failures, self.suggestions):
            label.clear()
            label.hide()

    def show_evaluation(self, result: Evaluation) -> None:
        self.evaluation = result
        self.bar.set_score(result.score, accepted=result.accepted)
        words = SCORE_WORDS[result.score]
        if result.accepted:
            self.verdict.setText(f"{words}: meets the password policy.")
        else:
            broken = len(result.failures)
            self.verdict.setText(f"{words}: not accepted yet, {broken} "
                                 f"{'rule' if broken == 1 else 'rules'} not met.")
        self._tone("good" if result.accepted else f"score{result.score}")
        time_text = result.crack_time_display
        if time_text == "less than a second":
            self.crack_time.setText("An attacker with a copy of the stored hash would guess it "
                                    "in less than a second.")
        else:
            about = "" if time_text == "centuries" else "about "
            self.crack_time.setText("An attacker with a copy of the stored hash would need "
                                    f"{about}{time_text} to guess it.")
        self.crack_time.show()
        self.failures.setText("\n".join(f"• {f.message}" for f in result.failures))
        self.failures.setVisible(bool(result.failures))
        # Two tips at most: a long list of advice reads as noise while typing.
        tips = result.suggestions[:MAX_TIPS] if not result.accepted else ()
        self.suggestions.setText("\n".join(f"Tip: {s}" for s in tips))
        self.suggestions.setVisible(bool(tips))

    def _tone(self, tone: str) -> None:
        self.verdict.setProperty("tone", tone)
        # A dynamic property changed: re-apply the stylesheet to see it.
        self.verdict.style().unpolish(self.verdict)
        self.verdict.style().polish(self.verdict)
