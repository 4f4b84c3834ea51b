"""Compliance meaning of a reply, decided before any campaign rule, conversation state or match.

CTIA Messaging Principles and Best Practices (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT;
HELP/INFO; START/UNSTOP to opt back in) and the FCC's 2024 TCPA order (FCC 24-24, 47 CFR
64.1200(a)(10)): consent is revoked by "any reasonable method to clearly express a desire not to
receive further calls or text messages", so plain-language requests ("leave me alone", "take me
off your list", "no más mensajes") opt out too. Words and patterns per language: `languages.py`.

A reply is read clause by clause (split at sentence punctuation) after `normalise.fold`, with
numbers and symbols standing for letters read as letters ("st0p", "$top"), spelt-out letters
joined ("s.t.o.p"), masked profanity recognised ("f*** off") and repeated letters squeezed
("stooop"). A clause opts out when, politeness and emphasis aside, it is a STOP-family word (or
repeats them), a typo of one (`typos.py`), a refusal ("go away"), or contains a revocation
pattern not negated just before it ("don't stop sending" keeps consent). Precision matters most:
a false opt-out silently loses a subscriber, so a text that may or may not be a revocation
("I'm done", "not interested", "pause my texts") is `UNCLEAR`, and the subscriber is asked once.
The measured corpus is `testdata/revocation/`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from services.router import languages, typos
from services.router.languages import EMOJI, EMPHASIS, LANGUAGES, POLITENESS, PROFANITY
from services.router.normalise import fold


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_OUT_ALL = "opt_out_all"
    HELP = "help"
    OPT_IN = "opt_in"
    UNCLEAR = "unclear_opt_out"  # may be a revocation: ask once


# A table entry's kind; `yes` opts back in only a number that opted out.
KINDS = ("opt_out_all", "opt_out", "refusals", "help", "opt_in", "unclear", "yes")
_RANK = {kind: rank for rank, kind in enumerate(KINDS)}
_INTENT = {"opt_out_all": Intent.OPT_OUT_ALL, "opt_out": Intent.OPT_OUT, "refusals": Intent.OPT_OUT,
           "help": Intent.HELP, "opt_in": Intent.OPT_IN, "unclear": Intent.UNCLEAR,
           "yes": Intent.OPT_IN}


@dataclass(frozen=True)
class Understood:
    intent: Intent
    language: str  # of the word or pattern that decided: the language to answer in
    rule: str  # keyword | refusal | revocation | typo | unclear: what fired, for the logs


# --- reading a text ------------------------------------------------------------------------------

_LEET_TOKEN = re.compile(r"[a-z0-9$@]+")
_LEET = str.maketrans("01345$@7", "oieassat")
_MASKED = re.compile(r"(?<![a-z*])[a-z][a-z]*\*[a-z*]*")
_SPELT = re.compile(r"(?<![a-z0-9])[a-z](?:[ .\-_*/|~+]+[a-z](?![a-z0-9])){2,}")
_CLAUSES = re.compile(r"[.!?;,:\n\r¿¡\"()\[\]{}…]+|\s[-–—]+\s")
_LEET_HINT = re.compile(r"[a-z][0-9$@]|[0-9$@][a-z]")
_TOKENS = re.compile(r"[a-z0-9]+|#|[" + "".join(sorted(EMOJI)) + "]")
_SQUEEZE = re.compile(r"(?<=([a-z]))\1+")


def _unleet(m: re.Match) -> str:
    token = m.group()
    if token.isalpha() or token.isdigit() or sum(ch.isalpha() for ch in token) < 2:
        return token
    return token.translate(_LEET)


def _unmask(m: re.Match) -> str:
    return "cussing" if m.group().endswith(("ing", "in")) else "cuss"


def _squeeze(word: str) -> str:
    return _SQUEEZE.sub("", word)


_PROFANITY = {_squeeze(word): _squeeze(to) for word, to in PROFANITY.items()}
_EMPHASIS = frozenset(map(_squeeze, EMPHASIS))
_POLITENESS = frozenset(map(_squeeze, POLITENESS))


@dataclass(frozen=True)
class Clause:
    phrase: str  # the words with emphasis removed, space-separated: what patterns read
    words: tuple[str, ...]  # the same words
    core: tuple[str, ...]  # without politeness either: what keyword tables read


def clauses(text: str) -> tuple[Clause, ...]:
    """A text read for compliance, clause by clause. Short texts are cached: most replies are a
    few texts sent again and again ("STOP", "Y", "1")."""
    return _read_cached(text) if len(text) <= 160 else _read(text)


@lru_cache(maxsize=8192)
def _read_cached(text: str) -> tuple[Clause, ...]:
    return _read(text)


def _read(text: str) -> tuple[Clause, ...]:
    text = fold(text).replace("'", "")
    if _LEET_HINT.search(text):
        text = _LEET_TOKEN.sub(_unleet, text)
    if "*" in text or " " in text or "." in text or "-" in text or "_" in text:
        text = _SPELT.sub(lambda m: "".join(ch for ch in m.group() if ch.isalpha()), text)
        if "*" in text:
            text = _MASKED.sub(_unmask, text)
    out = []
    for part in _CLAUSES.split(_squeeze(text)):
        words = tuple([w for w in [_PROFANITY.get(t, t) for t in _TOKENS.findall(part)]
                       if w not in _EMPHASIS])
        if words:
            core = tuple([w for w in words if w not in _POLITENESS]) or words
            out.append(Clause(" ".join(words), words, core))
    return tuple(out)


# --- the vocabulary --------------------------------------------------------------------------------

def entry_key(text: str) -> str | None:
    """How a table entry is looked up: its core, unless taking politeness off leaves a single
    other word ("f you" is not "f", "please no" is not "no")."""
    read = clauses(text)
    if len(read) != 1:
        return None
    clause = read[0]
    if clause.core == clause.words or len(clause.core) >= 2:
        return " ".join(clause.core)
    return " ".join(clause.words)


@dataclass(frozen=True)
class Vocabulary:
    """The words one program answers to: the built-in languages plus the program's own words,
    and the tenant's own keywords, which are never taken for typos of STOP."""

    table: Mapping[str, tuple[str, str]]  # entry key → (kind, language)
    longest: int
    reserved: frozenset[str] = frozenset()
    firsts: frozenset[str] = frozenset()  # the first words of the entries: a quick "no"
    # What its short replies meant, (text, opted_out) → meaning: it lives and dies with the
    # vocabulary (one per program and definitions version), so a changed program starts afresh.
    memo: dict = field(default_factory=dict, compare=False, repr=False)


def _built_in_table() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for lang in LANGUAGES.values():
        for kind in KINDS:
            for word in getattr(lang, kind):
                key = entry_key(word)
                assert key, f"{lang.code} {kind} {word!r} reads as nothing"
                if key in table and table[key][0] != kind:
                    raise ValueError(f"{word!r} is both {table[key][0]} and {kind}")
                table.setdefault(key, (kind, lang.code))
    return table


_BUILT_IN = _built_in_table()


def vocabulary(extra: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
               reserved: Iterable[str] = ()) -> Vocabulary:
    """`extra`: language → kind (opt_out, help, opt_in) → words a program adds. They can only
    add: the built-in words (STOP, HELP, START, their Spanish twins and kin) always stay."""
    table = dict(_BUILT_IN)
    for language, kinds in (extra or {}).items():
        for kind, words in kinds.items():
            for word in words:
                key = entry_key(word)
                if key is not None:
                    table.setdefault(key, (kind, language))
    folded = frozenset(_squeeze(w) for word in reserved for c in clauses(word) for w in c.words)
    return Vocabulary(table, max(len(k.split()) for k in table), folded,
                      frozenset(k.split()[0] for k in table))


DEFAULT = vocabulary()


def collision(word: str, kind: str, vocab: Vocabulary = DEFAULT) -> str | None:
    """Why a program may not add `word` as `kind`, or None."""
    key = entry_key(word)
    if key is None:
        return f"{word!r} reads as no word (or as several sentences)"
    found = vocab.table.get(key)
    if found is not None and found[0] != kind and not (kind == "opt_out" and found[0] == "refusals"):
        return f"{word!r} already means {found[0]} ({found[1]})"
    return None


# --- patterns ------------------------------------------------------------------------------------

_MACRO = re.compile(r"[A-Z][A-Z_]+")


def _compile(patterns: tuple[str, ...], macros: dict[str, str]) -> re.Pattern | None:
    if not patterns:
        return None
    expanded = [_MACRO.sub(lambda m: macros.get(m.group(), m.group()), p) for p in patterns]
    expanded = [_MACRO.sub(lambda m: macros.get(m.group(), m.group()), p) for p in expanded]
    source = "|".join(f"(?:{_squeeze(p)})" for p in expanded)
    return re.compile(r"(?<![a-z0-9#])(?:" + source + r")(?![a-z0-9#])")


@dataclass(frozen=True)
class _Patterns:
    language: str
    revocations: re.Pattern | None
    guarded: re.Pattern | None
    scope: re.Pattern | None
    unclear: re.Pattern | None
    negations: frozenset[str]


_PATTERNS = tuple(_Patterns(
    lang.code, _compile(lang.revocations, lang.macros), _compile(lang.guarded, lang.macros),
    _compile(lang.unclear_scope, lang.macros), _compile(lang.unclear_anywhere, lang.macros),
    frozenset(_squeeze(n) for n in lang.negations)) for lang in LANGUAGES.values())


def _negated(phrase: str, start: int, negations: frozenset[str]) -> bool:
    before = phrase[:start].split()[-2:]
    return bool(before) and (before[-1] in negations or " ".join(before) in negations)


def _segments(words: tuple[str, ...], vocab: Vocabulary) -> list[tuple[str, str]] | None:
    """The clause as a run of table entries ("stop stop", "stop 🛑"), or None. Read from the end,
    one pass: where a run can start, and with which entry (no recursion, however long the text)."""
    if not words or words[0] not in vocab.firsts:
        return None
    n = len(words)
    step: list[tuple[int, tuple[str, str]] | None] = [None] * (n + 1)
    for i in range(n - 1, -1, -1):
        for length in range(min(n - i, vocab.longest), 0, -1):
            found = vocab.table.get(" ".join(words[i:i + length]))
            if found is not None and (i + length == n or step[i + length] is not None):
                step[i] = (i + length, found)
                break
    if step[0] is None:
        return None
    out, i = [], 0
    while i < n:
        i, found = step[i]
        out.append(found)
    return out


# --- classification ------------------------------------------------------------------------------

_MEMO_SIZE = 4096
_UNSEEN = object()


def classify(text: str, opted_out: bool, vocab: Vocabulary = DEFAULT) -> Understood | None:
    """The compliance meaning of a reply (its raw text), or None when it has none. Short replies
    are remembered per vocabulary: most are a few texts sent again and again ("STOP", "Y", "1")."""
    if len(text) > 160:
        return _classify(text, opted_out, vocab)
    key = (text, opted_out)
    found = vocab.memo.get(key, _UNSEEN)
    if found is _UNSEEN:
        found = vocab.memo[key] = _classify(text, opted_out, vocab)
        if len(vocab.memo) > _MEMO_SIZE:
            del vocab.memo[next(iter(vocab.memo))]  # the oldest first
    return found


def _classify(text: str, opted_out: bool, vocab: Vocabulary) -> Understood | None:
    best: tuple[int, Understood] | None = None
    for clause in clauses(text):
        found = _clause(clause, vocab)
        if found is None:
            continue
        rank, understood = found
        if understood.intent in (Intent.OPT_OUT, Intent.OPT_OUT_ALL):
            return understood
        if best is None or rank < best[0]:
            best = (rank, understood)
    if best is None:
        return None
    understood = best[1]
    if understood.rule == "yes" and not opted_out:
        return None
    return understood


@lru_cache(maxsize=4096)
def _patterns(phrase: str) -> tuple[str | None, str | None, str | None]:
    """The languages whose patterns fire on a clause: (unclear scope, revocation, unclear)."""
    scope = next((p.language for p in _PATTERNS if p.scope is not None and p.scope.search(phrase)),
                 None)
    if scope is not None:
        return scope, None, None
    for p in _PATTERNS:
        if p.revocations is not None and p.revocations.search(phrase):
            return None, p.language, None
        if p.guarded is not None and any(not _negated(phrase, m.start(), p.negations)
                                         for m in p.guarded.finditer(phrase)):
            return None, p.language, None
    unclear = next((p.language for p in _PATTERNS
                    if p.unclear is not None and p.unclear.search(phrase)), None)
    return None, None, unclear


def _clause(clause: Clause, vocab: Vocabulary) -> tuple[int, Understood] | None:
    scope, revocation, unclear = _patterns(clause.phrase)
    if scope is not None:
        return _RANK["unclear"], Understood(Intent.UNCLEAR, scope, "unclear")
    if revocation is not None:
        return 0, Understood(Intent.OPT_OUT, revocation, "revocation")
    segments = _segments(clause.core, vocab) or (
        _segments(clause.words, vocab) if clause.words != clause.core else None)
    if segments:
        kind, language = min(segments, key=lambda s: _RANK[s[0]])
        rule = {"refusals": "refusal", "unclear": "unclear", "yes": "yes"}.get(kind, "keyword")
        return _RANK[kind], Understood(_INTENT[kind], language, rule)
    if len(clause.core) == 1 and clause.core[0] not in vocab.reserved \
            and typos.typo_of(clause.core[0]) is not None:
        return 0, Understood(Intent.OPT_OUT, "en", "typo")
    if unclear is not None:
        return _RANK["unclear"], Understood(Intent.UNCLEAR, unclear, "unclear")
    return None


def mandatory_words() -> dict[str, tuple[str, ...]]:
    """kind → the words no program can lose, every language together."""
    out: dict[str, tuple[str, ...]] = {}
    for lang in LANGUAGES.values():
        for kind, words in lang.mandatory.items():
            out[kind] = (*out.get(kind, ()), *words)
    return out


__all__ = [
    "Intent",
    "Understood",
    "Vocabulary",
    "classify",
    "collision",
    "languages",
    "vocabulary",
]
