"""Unmatched replies: what subscribers answered that no option understood, grouped into clusters
of near-duplicates, each with a suggested fix for the prompt or its options.

A reply's text is normalised once when it is stored (`normalise`: accents, case, punctuation and
emoji folded away), so "Sneakers!", "sneakers" and "SNEAKERS 👟" are one text. `cluster` then
groups texts that are near-duplicates (rapidfuzz WRatio against each cluster's leading text, most
frequent first), so "sneaker", "sneakers" and "snekers" make one cluster; its example is the raw
reply written most often. `suggest` compares a cluster with the options of the step it was
mostly answered at (flow steps, or the tenant's campaign keywords outside a flow):

- close to an option's keyword or synonym ("yse" → YES, "the shoe one" → SHOES): add it as a synonym;
- a number or letter no option takes: say the valid ones in the prompt;
- a question: answer it in the prompt or route it to an agent;
- anything else: consider a new option.

Pure; the store reads the rows and the definitions (the router's JSON, read minimally here).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

MAX_TEXT = 160
MAX_RAW = 320
CLUSTER_THRESHOLD = 85.0  # WRatio: plurals, a typo or a word around the same text group together
CLOSE_THRESHOLD = 85.0  # WRatio between a text and an option word for a synonym suggestion
_SHORT = 5  # texts this short are close to an option word only at one edit (OSA), not by WRatio
_NON_WORD = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"^\d{1,3}$")
_QUESTION_WORDS = frozenset({
    "what", "when", "where", "which", "who", "whom", "whose", "why", "how", "is", "are", "can",
    "could", "do", "does", "did", "will", "would", "should", "may", "qué", "que", "cuándo",
    "cuando", "dónde", "donde", "cómo", "como", "cuál", "cual", "por"})

Action = Literal["add_synonym", "out_of_range", "answer_question", "new_option"]
Where = tuple[str | None, str | None, str | None]  # (flow_id, step, campaign_id)


def normalise(raw: str) -> str:
    """Case-folded, accents removed, punctuation and emoji turned into spaces, spaces collapsed.
    A reply of nothing but emoji keeps them (without spaces), so "👍👍" still groups."""
    decomposed = unicodedata.normalize("NFKD", raw[:MAX_RAW])
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    text = " ".join(_NON_WORD.sub(" ", bare).split())
    if not text:
        text = "".join(ch for ch in raw if not ch.isspace() and unicodedata.category(ch) != "Cf")
    return text[:MAX_TEXT]


@dataclass
class Cluster:
    text: str  # the most frequent normalised text of the cluster: the one it is named after
    count: int = 0
    texts: Counter[str] = field(default_factory=Counter)
    raws: Counter[str] = field(default_factory=Counter)
    where: Counter[Where] = field(default_factory=Counter)

    @property
    def example(self) -> str:
        return min(self.raws.items(), key=lambda kv: (-kv[1], kv[0]))[0] if self.raws else self.text

    @property
    def mostly_at(self) -> Where:
        return min(self.where.items(), key=lambda kv: (-kv[1], str(kv[0])))[0] if self.where \
            else (None, None, None)


@dataclass(frozen=True)
class Row:
    """Unmatched replies with one normalised text, one raw text, at one flow step or campaign."""

    text: str
    raw: str
    count: int
    flow_id: str | None = None
    step: str | None = None
    campaign_id: str | None = None


def cluster(rows: Iterable[Row], threshold: float = CLUSTER_THRESHOLD) -> list[Cluster]:
    """Near-duplicate texts grouped, largest cluster first. Texts are taken most frequent first and
    join the cluster whose leading text is closest (WRatio ≥ threshold); texts of two characters
    or fewer only group when equal. Cost: texts × clusters comparisons, bounded by the caller."""
    per_text: dict[str, list[Row]] = {}
    for row in rows:
        per_text.setdefault(row.text, []).append(row)
    totals = sorted(per_text.items(), key=lambda kv: (-sum(r.count for r in kv[1]), kv[0]))
    clusters: list[Cluster] = []
    leaders: list[str] = []
    for text, members in totals:
        target = None
        if len(text) > 2 and leaders:
            best = process.extractOne(text, leaders, scorer=fuzz.WRatio, score_cutoff=threshold)
            if best is not None and len(best[0]) > 2:
                target = clusters[best[2]]
        if target is None:
            target = Cluster(text)
            clusters.append(target)
            leaders.append(text)
        for r in members:
            target.count += r.count
            target.texts[text] += r.count
            target.raws[r.raw] += r.count
            target.where[(r.flow_id, r.step, r.campaign_id)] += r.count
    return sorted(clusters, key=lambda c: (-c.count, c.text))


# --- the options a reply was matched against (the router's stored JSON) -------------------------

@dataclass(frozen=True)
class OptionWords:
    key: str  # what the router reports as the keyword: the first keyword, upper case
    keywords: tuple[str, ...] = ()  # normalised
    synonyms: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None

    @property
    def words(self) -> tuple[str, ...]:
        return self.keywords + self.synonyms


def _words(values: Any) -> list[str]:
    return [normalise(v) for v in values if isinstance(v, str) and normalise(v)] \
        if isinstance(values, list) else []


def _option(raw: Any) -> OptionWords | None:
    if not isinstance(raw, Mapping):
        return None
    keywords = _words(raw.get("keywords"))
    span = raw.get("range")
    low = high = None
    if isinstance(span, list) and len(span) == 2 and all(isinstance(v, int) for v in span):
        low, high = span
    if not keywords and low is None:
        return None
    first = next((v for v in raw["keywords"] if isinstance(v, str) and normalise(v)), None) \
        if keywords else None
    key = first.strip().upper() if first else f"{low}-{high}"
    return OptionWords(key, tuple(keywords), tuple(_words(raw.get("synonyms"))), low, high)


def flow_options(definition: Any, step: str | None) -> list[OptionWords]:
    """A step's options (every step's when `step` is None) from a stored flow definition."""
    steps = definition.get("steps") if isinstance(definition, Mapping) else None
    if not isinstance(steps, Mapping):
        return []
    chosen = [steps.get(step)] if step is not None else list(steps.values())
    found = []
    for s in chosen:
        for raw in (s.get("options") if isinstance(s, Mapping) else None) or []:
            if (opt := _option(raw)) is not None:
                found.append(opt)
    return found


def rule_options(definitions: Iterable[Any]) -> list[OptionWords]:
    """The keywords of campaign rules (what a reply outside a flow is matched against)."""
    return [opt for d in definitions if (opt := _option(d)) is not None]


# --- suggestions --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Suggestion:
    action: Action
    option: str | None
    text: str


def _close(text: str, word: str) -> float:
    """How close a text is to an option word (0 when not close enough to suggest)."""
    if min(len(text), len(word)) <= _SHORT:
        return 100.0 - OSA.distance(text, word) if max(len(text), len(word)) >= 3 and \
            OSA.distance(text, word) <= 1 else 0.0
    score = fuzz.WRatio(text, word)
    return score if score >= CLOSE_THRESHOLD else 0.0


def _closest(texts: Sequence[str], options: Sequence[OptionWords]) -> str | None:
    best, best_key = 0.0, None
    for text in texts:
        tokens = text.split()
        candidates = [text] + ([t for t in tokens if len(t) >= 3] if 1 < len(tokens) <= 4 else [])
        for opt in options:
            for word in opt.words:
                for candidate in candidates:
                    score = _close(candidate, word)
                    if score > best:
                        best, best_key = score, opt.key
    return best_key


def _is_question(raw: str, text: str) -> bool:
    words = text.split()
    return "?" in raw or "¿" in raw or (len(words) >= 2 and words[0] in _QUESTION_WORDS)


def _plural(n: int) -> str:
    return f"{n} repl{'y' if n == 1 else 'ies'}"


def suggest(c: Cluster, options: Sequence[OptionWords]) -> Suggestion:
    n, text = _plural(c.count), c.text
    ranges = [(o.low, o.high) for o in options if o.low is not None]
    letters = sorted({w.upper() for o in options for w in o.keywords if len(w) == 1 and w.isalpha()})
    if _NUMBER.match(text) and not any(lo <= int(text) <= hi for lo, hi in ranges):
        valid = ", ".join(f"{lo}-{hi}" if hi != lo else f"{lo}" for lo, hi in ranges)
        why = f"outside the numbers the options take ({valid})" if ranges \
            else "a number, and no option takes one"
        return Suggestion("out_of_range", None, f"'{text}' is {why}: say the valid answers in the "
                                                f"prompt: {n}")
    if len(text) == 1 and text.isalpha() and letters and text.upper() not in letters:
        return Suggestion("out_of_range", None, f"'{text}' is not one of the letters offered "
                                                f"({', '.join(letters)}): say them in the prompt: {n}")
    if (key := _closest(list(c.texts), options)) is not None:
        return Suggestion("add_synonym", key, f"add '{text}' as a synonym of {key}: {n}")
    if _is_question(c.example, text) or any(_is_question(r, normalise(r)) for r in c.raws):
        return Suggestion("answer_question", None,
                          f"a question ('{c.example}'): answer it in the prompt or route it to an agent: {n}")
    return Suggestion("new_option", None, f"consider a new option for '{text}': {n}")
