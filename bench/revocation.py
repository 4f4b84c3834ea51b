"""Revocation: precision and recall of compliance on the labelled corpus
(`services/router/testdata/revocation/`), for the whole corpus and for its held-out part, which
the rules were not developed on. Scoring: `services.router.corpus`.

    python -m bench.revocation
"""

from __future__ import annotations

from bench.common import report
from services.router import corpus


def main() -> None:
    for name, parts in (("revocation corpus (full)", corpus.PARTS), ("revocation (held out)", ("heldout",))):
        score = corpus.score(corpus.load(parts))
        report(name, texts=score.examples, precision=score.precision * 100, recall=score.recall * 100,
               ambiguous_asked=score.ask_rate * 100, not_opt_out_asked=score.over_ask_rate * 100)
        for example in (*score.false_opt_outs, *score.missed, *score.not_asked, *score.over_asked):
            print(f"    {example.part}/{example.label}: {example.text!r}")


if __name__ == "__main__":
    main()
