"""Text preparation shared by every password rule: NFC, code-point length, and folding.

NIST SP 800-63B-4 3.1.1.2: Unicode is allowed, normalised (we use NFC, as the hash does) and
length is counted in code points. *Folding* is for matching only (Entra ID's banned-password
normalisation): lower case, compatibility forms and accents removed, and look-alike
substitutions undone (``0→o 1→l 3→e 4→a 5→s 7→t @→a $→s`` by default). Folding maps each
code point to exactly one code point, so a match at positions i..j of the folded text is at
i..j of the password too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable


def prepare(password: str) -> str:
    """The password as it is hashed and judged: NFC, never truncated."""
    return unicodedata.normalize("NFC", password)


class Folder:
    """Folds text for matching; one instance per set of substitutions (cached per character)."""

    def __init__(self, substitutions: Iterable[tuple[str, str]]) -> None:
        self._subs = dict(substitutions)
        ascii_map = {chr(c): self._fold_char(chr(c)) for c in range(128)}
        self._ascii = str.maketrans({k: v for k, v in ascii_map.items() if k != v})
        self._cache: dict[str, str] = {}

    def _fold_char(self, ch: str) -> str:
        out = unicodedata.normalize("NFKC", ch)
        if len(out) != 1:
            out = ch
        lower = out.lower()
        if len(lower) == 1:
            out = lower
        decomposed = unicodedata.normalize("NFD", out)
        if len(decomposed) > 1 and all(unicodedata.combining(c) for c in decomposed[1:]):
            out = decomposed[0]
        return self._subs.get(out, out)

    def fold(self, text: str) -> str:
        """Same length as ``text``: one folded code point per code point."""
        if text.isascii():
            return text.translate(self._ascii)
        cache = self._cache
        out = []
        for ch in text:
            folded = cache.get(ch)
            if folded is None:
                folded = self._fold_char(ch)
                if len(cache) < 65536:
                    cache[ch] = folded
            out.append(folded)
        return "".join(out)
