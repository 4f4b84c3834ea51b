"""Typos of the STOP family ("sotp", "stpo", "cancle", "unsubscibe"), bounded so they never fire
on an English word ("step", "shop", "quite", "cancer", "subscribe").

A single word of three letters or more is a typo of a keyword when it is one edit away (two
for UNSUBSCRIBE, eleven letters long): a swap of neighbouring letters, a letter left out (not the
first), or a letter typed for another. For the four-letter STOP and QUIT a wrong letter must be
a neighbour on a QWERTY keyboard ("srop", "stip", "wuit"), and an extra letter must sit next to a
neighbour key.
Words of the American English dictionary within that reach are `NEAR_WORDS` and never match;
`python -m services.router.typos /usr/share/dict/words` prints them again from a word list.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache

from rapidfuzz.distance import OSA

KEYWORDS = ("stop", "quit", "cancel", "revoke", "optout", "unsubscribe")
_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_SQUEEZE = re.compile(r"([a-z])\1+")


def _neighbours() -> dict[str, set[str]]:
    near: dict[str, set[str]] = {}
    for r, row in enumerate(_ROWS):
        for c, key in enumerate(row):
            keys = near.setdefault(key, set())
            for dr in (-1, 0, 1):
                if 0 <= r + dr < len(_ROWS):
                    other = _ROWS[r + dr]
                    for dc in (-1, 0, 1):
                        if (dr or dc) and 0 <= c + dc < len(other):
                            keys.add(other[c + dc])
    return near


NEIGHBOURS = _neighbours()

# Generated from /usr/share/dict/words (see the module docstring); squeezed like replies are.
NEAR_WORDS = frozenset({
    "atop", "cancels", "cancer", "chancel", "quilt", "quoit", "revoked", "revokes", "shop", "sop",
    "stol", "strop", "suit", "unsubscribed", "unsubscribes",
})


def _one_off_on_keyboard(word: str, keyword: str) -> bool:
    """One edit, where a wrong or extra letter is a neighbouring key."""
    if len(word) == len(keyword):
        diff = [i for i, (a, b) in enumerate(zip(word, keyword, strict=True)) if a != b]
        if len(diff) == 1:
            return word[diff[0]] in NEIGHBOURS.get(keyword[diff[0]], ())
        return len(diff) == 2 and diff[1] == diff[0] + 1 and \
            word[diff[0]] == keyword[diff[1]] and word[diff[1]] == keyword[diff[0]]
    if len(word) == len(keyword) - 1:  # a letter left out, never the first
        return any(word == keyword[:i] + keyword[i + 1:] for i in range(1, len(keyword)))
    if len(word) == len(keyword) + 1:  # an extra letter next to the key it was meant for
        for i in range(len(word)):
            if word[:i] + word[i + 1:] == keyword:
                beside = {keyword[j] for j in (i - 1, i) if 0 <= j < len(keyword)}
                return any(word[i] in NEIGHBOURS.get(b, ()) for b in beside)
    return False


@lru_cache(maxsize=8192)
def typo_of(word: str, near_words: frozenset[str] = NEAR_WORDS) -> str | None:
    """The STOP-family keyword `word` (a squeezed, folded single word) is a typo of, if any."""
    if len(word) < 3 or word in near_words or not word.isalpha():
        return None
    for keyword in KEYWORDS:
        if abs(len(word) - len(keyword)) > 2 or (len(word) == 3 and len(keyword) != 4):
            continue
        if len(keyword) <= 4:
            if _one_off_on_keyboard(word, keyword):
                return keyword
        elif OSA.distance(word, keyword, score_cutoff=2 if len(keyword) > 8 else 1) <= (
                2 if len(keyword) > 8 else 1) and word[0] == keyword[0]:
            return keyword
    return None


def near_words(lines) -> list[str]:
    """Dictionary words a typo match would take for a keyword: what NEAR_WORDS must hold."""
    found = set()
    for line in lines:
        word = line.strip()
        if word.isalpha() and word.isascii() and word.islower():
            squeezed = _SQUEEZE.sub(r"\1", word)
            if squeezed not in KEYWORDS and typo_of(squeezed, frozenset()) is not None:
                found.add(squeezed)
    return sorted(found)


if __name__ == "__main__":
    with open(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/dict/words") as words:
        print(near_words(words))
