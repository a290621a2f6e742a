"""Composition rules (character classes) — off in the updated policy, kept for the legacy one.

NIST SP 800-63B-4 3.1.1.2: verifiers SHALL NOT impose composition rules. The legacy policy
required three of the four classes; ``password compare`` needs the rule to show what changes.
"""

from __future__ import annotations

CLASS_NAMES = ("lower-case letters", "capitals", "digits", "symbols")


def character_classes(password: str) -> int:
    """How many of lower-case, upper-case, digit and other (symbol, space, …) occur."""
    lower = upper = digit = other = False
    for ch in password:
        if ch.islower():
            lower = True
        elif ch.isupper():
            upper = True
        elif ch.isdigit():
            digit = True
        else:
            other = True
    return lower + upper + digit + other
