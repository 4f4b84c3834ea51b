"""Stages 2–5 of understanding a reply: exact keyword, synonyms, fuzzy, numbers and letters.

Each stage is a small function over the normalised text and the options expected *at this point
of the conversation*; `match` runs them in order and reports which stage matched, so decisions can
be logged and keyword-match rates computed. Options are compiled once per rule set (`compile_options`)
so matching a reply costs a few dict look-ups in the common case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA

from services.router.normalise import tokens

DEFAULT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "yes": ("yes", "y", "yeah", "yep", "yup", "sure", "ok", "okay", "yes please", "👍", "yas",
            "yea", "ya", "absolutely", "of course", "si", "sí", "claro"),
    "no": ("no", "n", "nope", "nah", "no thanks", "no thank you", "👎", "no gracias"),
}
SHORT = 3  # keywords this short never match fuzzily: NO must not become GO, 1 must not become 7
DEFAULT_THRESHOLD = 75.0  # OSA similarity: one typo or swap in a 4–5 letter word still matches
_WORD_NUMBERS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                 "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
             "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
_STAR_CHARS = "⭐★🌟"
_WORD = "|".join([*_WORD_NUMBERS, *_ORDINALS])
# "2", "#2", "2nd", "two", "the second one", "option 2", "5 stars", "5/5", "I'd give it a 4"
_NUMBER = re.compile(
    r"^(?:(?:i'?d say|i'?d give it|i give it|i pick|i choose|i'?ll take|i want|let'?s go with|"
    r"go with|option|number|no\.|choice|answer|my answer is|rating|rate|it'?s|the|a|an)\s+|#\s*)*"
    rf"(?P<n>\d{{1,2}}(?:st|nd|rd|th)?|{_WORD})"
    r"(?:\s*(?:/|out of|of)\s*\d{1,2})?"
    rf"(?:\s*(?:stars?|[{_STAR_CHARS}]+|points?|pts?|one|option|please|pls|thanks))*$")
# "a", "a)", "(b)", "c.", "option c", "letter b please"
_LETTER = re.compile(r"^(?:(?:option|letter|choice|answer|my answer is|i pick|i choose|i'?ll take|"
                     r"go with|the)\s+)*\(?([a-z])\)?[).:]?(?:\s+(?:please|pls|thanks))?$")
_KEYCAP = str.maketrans("", "", "\ufe0f\u20e3")  # "2️⃣" is 2


def read_number(text: str) -> int | None:
    """The number a normalised reply names, in any of the ways people write one."""
    text = text.translate(_KEYCAP)
    if text and len(text) <= 10 and (all(ch in _STAR_CHARS for ch in text) or set(text) == {"*"}):
        return len(text)
    m = _NUMBER.match(text)
    if m is None:
        return None
    n = m.group("n")
    if n[0].isdigit():
        return int(n.rstrip("stndrh"))
    return _WORD_NUMBERS.get(n, _ORDINALS.get(n))


# Words around a keyword that do not change which option it names ("shoes please", "I want bags").
_FILLER = frozenset({"please", "pls", "plz", "thanks", "thank", "you", "i", "want", "would", "like",
                     "id", "the", "a", "an", "some", "me", "for", "my", "choice", "is", "answer",
                     "option", "go", "with", "ill", "take", "oh", "um", "hmm", "ok", "okay"})


@dataclass(frozen=True)
class Option:
    """What a reply may mean here: a key (e.g. "SHOES"), its words, and optionally a number range."""

    key: str
    keywords: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    low: int | None = None  # numeric options: this option takes low..high
    high: int | None = None
    threshold: float = DEFAULT_THRESHOLD


@dataclass(frozen=True)
class Match:
    key: str
    stage: str  # exact | synonym | fuzzy | number | letter
    score: float = 100.0
    number: int | None = None


@dataclass
class Compiled:
    exact: dict[str, str] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)
    fuzzy: dict[str, tuple[str, float]] = field(default_factory=dict)
    ranges: list[tuple[int, int, str]] = field(default_factory=list)
    numbers: dict[int, str] = field(default_factory=dict)  # keywords that are numbers: "1", "ONE"
    letters: dict[str, str] = field(default_factory=dict)

    @property
    def valid_replies(self) -> list[str]:
        """Canonical replies to list in a fallback ("Reply SHOES, BAGS or JACKETS")."""
        seen: dict[str, str] = {}
        for word, key in self.exact.items():
            seen.setdefault(key, word.upper())
        words = list(seen.values())
        for low, high, _ in self.ranges:
            if f"{low}" not in words:
                words.append(f"{low}-{high}" if high > low else f"{low}")
        return words


def _norm_word(word: str) -> str:
    return " ".join(tokens(word.casefold())) or word.casefold().strip()


def compile_options(options: Sequence[Option], default_synonyms: bool = True) -> Compiled:
    c = Compiled()
    for opt in options:
        keywords = opt.keywords or (() if opt.low is not None else (opt.key,))
        for kw in keywords:
            word = _norm_word(kw)
            c.exact.setdefault(word, opt.key)
            if len(word) == 1 and word.isalpha():
                c.letters.setdefault(word, opt.key)
            if (value := read_number(word)) is not None and " " not in word:
                c.numbers.setdefault(value, opt.key)
            if len(word) > SHORT and not word.isdigit():
                c.fuzzy.setdefault(word, (opt.key, opt.threshold))
        for syn in opt.synonyms:  # a tenant's own synonyms are matched like keywords, typos too
            word = _norm_word(syn)
            if len(word) > SHORT and not word.isdigit() and word not in c.exact:
                c.fuzzy.setdefault(word, (opt.key, opt.threshold))
        synonyms = list(opt.synonyms)
        if default_synonyms:
            for kw in keywords:
                synonyms.extend(DEFAULT_SYNONYMS.get(_norm_word(kw), ()))
        for syn in synonyms:
            word = syn if not any(ch.isalnum() for ch in syn) else _norm_word(syn)
            if word not in c.exact:
                c.synonyms.setdefault(word, opt.key)
        if opt.low is not None:
            c.ranges.append((opt.low, opt.high if opt.high is not None else opt.low, opt.key))
    return c


def _without_filler(text: str) -> str:
    words = tokens(text)
    kept = [w for w in words if w not in _FILLER]
    return " ".join(kept) if kept else " ".join(words)


def exact(text: str, c: Compiled) -> Match | None:
    key = c.exact.get(text)
    if key is None and (simple := " ".join(tokens(text))) != text:
        key = c.exact.get(simple)
    if key is None:
        key = c.exact.get(_without_filler(text))
    return Match(key, "exact") if key else None


def synonym(text: str, c: Compiled) -> Match | None:
    key = c.synonyms.get(text) or c.synonyms.get(" ".join(tokens(text)))
    return Match(key, "synonym") if key else None


def fuzzy(text: str, c: Compiled) -> Match | None:
    if not c.fuzzy or len(text) <= SHORT or len(text) > 40 or text.isdigit():
        return None
    candidate = _without_filler(text)
    best = process.extractOne(candidate, c.fuzzy.keys(), scorer=OSA.normalized_similarity)
    if best is None:
        return None
    word, similarity, _ = best
    score = similarity * 100
    key, threshold = c.fuzzy[word]
    return Match(key, "fuzzy", float(score)) if score >= threshold else None


def number(text: str, c: Compiled) -> Match | None:
    if not c.ranges and not c.numbers:
        return None
    value = read_number(text)
    if value is None:
        return None
    if (key := c.numbers.get(value)) is not None:
        return Match(key, "number", number=value)
    for low, high, key in c.ranges:
        if low <= value <= high:
            return Match(key, "number", number=value)
    return None


def letter(text: str, c: Compiled) -> Match | None:
    if not c.letters:
        return None
    m = _LETTER.match(text)
    key = c.letters.get(m.group(1)) if m else None
    return Match(key, "letter") if key else None


STAGES = (exact, synonym, number, letter, fuzzy)


def match(text: str, c: Compiled) -> Match | None:
    """The first stage that understands `text` (already normalised), or None."""
    for stage in STAGES:
        if (found := stage(text, c)) is not None:
            return found
    return None
