"""The labelled revocation corpus (`testdata/revocation/`): reading it and scoring compliance on it.

Scoring (README.md beside the corpus): every text is classified for a subscriber in good standing.
- precision = opt-outs that were labelled opt-out / all opt-outs (an `ambiguous` or `not_opt_out`
  text opted out is a false opt-out: the subscriber is lost without having asked);
- recall = `opt_out` texts opted out / all `opt_out` texts (asking instead is a miss: the law wants
  the revocation honoured, not questioned);
- asked = `ambiguous` texts that got the one clarifying question / all `ambiguous` texts;
- over-asked = `not_opt_out` texts that got it anyway / all `not_opt_out` texts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.router.compliance import Intent, classify

ROOT = Path(__file__).parent / "testdata" / "revocation"
LABELS = ("opt_out", "not_opt_out", "ambiguous")
PARTS = ("dev", "heldout")


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    category: str
    part: str
    line: int


def _unescape(line: str) -> str:
    return line.replace("\\n", "\n").replace("\\#", "#")


def load(parts: tuple[str, ...] = PARTS) -> list[Example]:
    """Each part's `<label>.txt`: one text a line; `# category: name` starts a category, other
    `#` lines are comments; `\\n` is a line break and `\\#` a text's leading #."""
    out = []
    for part in parts:
        for label in LABELS:
            category = "uncategorised"
            path = ROOT / part / f"{label}.txt"
            for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                line = raw.rstrip()
                if not line.strip():
                    continue
                if line.startswith("#"):
                    if line.startswith("# category:"):
                        category = line.split(":", 1)[1].strip()
                    continue
                out.append(Example(_unescape(line), label, category, part, n))
    return out


def predict(text: str) -> str:
    """opt_out | ask | keep: what compliance does with the text for an opted-in subscriber."""
    found = classify(text, opted_out=False)
    if found is None:
        return "keep"
    if found.intent in (Intent.OPT_OUT, Intent.OPT_OUT_ALL):
        return "opt_out"
    return "ask" if found.intent is Intent.UNCLEAR else "keep"


@dataclass
class Score:
    examples: int = 0
    true_opt_outs: int = 0
    false_opt_outs: list[Example] = field(default_factory=list)
    missed: list[Example] = field(default_factory=list)  # opt-outs not opted out
    asked: int = 0
    not_asked: list[Example] = field(default_factory=list)  # ambiguous texts not asked about
    over_asked: list[Example] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        opted = self.true_opt_outs + len(self.false_opt_outs)
        return self.true_opt_outs / opted if opted else 1.0

    @property
    def recall(self) -> float:
        total = self.counts.get("opt_out", 0)
        return self.true_opt_outs / total if total else 1.0

    @property
    def ask_rate(self) -> float:
        total = self.counts.get("ambiguous", 0)
        return self.asked / total if total else 1.0

    @property
    def over_ask_rate(self) -> float:
        total = self.counts.get("not_opt_out", 0)
        return len(self.over_asked) / total if total else 0.0

    def summary(self) -> str:
        lines = [f"{self.examples} texts {self.counts}: precision {self.precision:.2%}, recall "
                 f"{self.recall:.2%}, ambiguous asked {self.ask_rate:.2%}, not-opt-out asked "
                 f"{self.over_ask_rate:.2%}"]
        for title, items in (("false opt-outs", self.false_opt_outs), ("missed opt-outs", self.missed),
                             ("ambiguous not asked", self.not_asked),
                             ("not-opt-outs asked", self.over_asked)):
            lines += [f"  {title}:"] + [f"    {e.part}/{e.label}.txt:{e.line} [{e.category}] {e.text!r}"
                                        for e in items] if items else []
        return "\n".join(lines)


def score(examples: list[Example], predict_fn: Callable[[str], str] = predict) -> Score:
    s = Score()
    for e in examples:
        s.examples += 1
        s.counts[e.label] = s.counts.get(e.label, 0) + 1
        got = predict_fn(e.text)
        if got == "opt_out":
            if e.label == "opt_out":
                s.true_opt_outs += 1
            else:
                s.false_opt_outs.append(e)
        elif e.label == "opt_out":
            s.missed.append(e)
        if e.label == "ambiguous":
            if got == "ask":
                s.asked += 1
            elif got != "opt_out":
                s.not_asked.append(e)
        elif e.label == "not_opt_out" and got == "ask":
            s.over_asked.append(e)
    return s
