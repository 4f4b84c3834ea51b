"""Compliance words: the measured revocation corpus, Spanish by default, typos of the STOP family
that never fire on English words, and the words a program may (and may not) add. Pure."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.router import compliance, corpus, typos
from services.router.compliance import Intent
from services.router.programs import ProgramDef

MIN_PRECISION, MIN_RECALL = 1.0, 0.98
MIN_ASKED, MAX_OVER_ASKED = 0.95, 0.05


@pytest.mark.parametrize("parts", [("dev", "heldout"), ("heldout",)], ids=["full", "heldout"])
def test_the_corpus_is_classified_with_full_precision_and_high_recall(parts):
    score = corpus.score(corpus.load(parts))
    assert score.precision >= MIN_PRECISION, score.summary()
    assert score.recall >= MIN_RECALL, score.summary()
    assert score.ask_rate >= MIN_ASKED, score.summary()
    assert score.over_ask_rate <= MAX_OVER_ASKED, score.summary()


def test_the_corpus_is_large_and_labelled_in_every_class():
    examples = corpus.load()
    counts = {label: sum(e.label == label for e in examples) for label in corpus.LABELS}
    assert len(examples) >= 300 and min(counts.values()) >= 30, counts
    assert len({e.category for e in examples}) >= 15
    heldout = [e for e in examples if e.part == "heldout"]
    assert len(heldout) >= 100 and {e.label for e in heldout} == set(corpus.LABELS)


def test_a_misclassified_text_is_named_in_the_summary():
    examples = corpus.load(("dev",))[:3]
    score = corpus.score(examples, predict_fn=lambda _text: "keep")
    assert f"{examples[0].text!r}" in score.summary() and score.recall == 0.0


OUT, ALL, HELP, IN, UNCLEAR = (Intent.OPT_OUT, Intent.OPT_OUT_ALL, Intent.HELP, Intent.OPT_IN,
                               Intent.UNCLEAR)
CASES = {
    # (text, opted out?) → (intent, language) or None
    "STOP": (("STOP", False), (OUT, "en")),
    "PARAR": (("PARAR", False), (OUT, "es")),
    "Alto!": (("Alto!", False), (OUT, "es")),
    "CANCELAR": (("CANCELAR", False), (OUT, "es")),
    "baja": (("baja", False), (OUT, "es")),
    "DETENER": (("DETENER", False), (OUT, "es")),
    "no más mensajes": (("no más mensajes", False), (OUT, "es")),
    "no me envíen más mensajes": (("no me envíen más mensajes", False), (OUT, "es")),
    "quiero darme de baja": (("quiero darme de baja", False), (OUT, "es")),
    "número equivocado": (("número equivocado", False), (OUT, "es")),
    "PARAR TODO": (("PARAR TODO", False), (ALL, "es")),
    "STOPALL": (("STOPALL", False), (ALL, "en")),
    "AYUDA": (("AYUDA", False), (HELP, "es")),
    "ayuda por favor": (("ayuda por favor", False), (HELP, "es")),
    "HELP": (("HELP", False), (HELP, "en")),
    "COMENZAR after STOP": (("COMENZAR", True), (IN, "es")),
    "sí after STOP": (("sí", True), (IN, "es")),
    "START after STOP": (("START", True), (IN, "en")),
    "YES after STOP": (("YES", True), (IN, "en")),
    "ok after STOP acknowledges, does not resubscribe": (("ok", True), None),
    "👍 after STOP acknowledges, does not resubscribe": (("👍", True), None),
    "YES while subscribed means nothing here": (("YES", False), None),
    "para mi mamá is Spanish for 'for my mom'": (("para mi mamá", False), None),
    "quiero cancelar mi pedido is an order": (("quiero cancelar mi pedido", False), None),
    "no dejen de enviarme ofertas (don't stop)": (("no dejen de enviarme ofertas", False), None),
    "dejen de enviarme ofertas": (("dejen de enviarme ofertas", False), (OUT, "es")),
    "basta asks": (("basta", False), (UNCLEAR, "es")),
    "not interested asks": (("not interested", False), (UNCLEAR, "en")),
    "STOP inside a long text": (("I have told you many times and I will say it again. STOP. "
                                 "I do not care about your shoes", False), (OUT, "en")),
    "Stop by the store inside a long text": (("We were going to stop by the store on Saturday "
                                             "to look at the new bags, are you open?", False), None),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_compliance_meaning(case):
    (text, opted_out), expected = case
    found = compliance.classify(text, opted_out)
    assert (None if found is None else (found.intent, found.language)) == expected, found


@pytest.mark.parametrize("word", sorted(typos.NEAR_WORDS))
def test_dictionary_words_near_the_stop_family_are_not_typos(word):
    assert typos.typo_of(word) is None
    assert compliance.classify(word, False) is None or word in ("stop", "quit")


@pytest.mark.parametrize("typo, keyword", [
    ("sotp", "stop"), ("stpo", "stop"), ("srop", "stop"), ("dtop", "stop"), ("stp", "stop"),
    ("qiut", "quit"), ("wuit", "quit"), ("cancle", "cancel"), ("canel", "cancel"),
    ("unsubscibe", "unsubscribe"), ("unsuscribe", "unsubscribe"), ("optuot", "optout"),
])
def test_typos_within_reach_match_their_keyword(typo, keyword):
    assert typos.typo_of(typo) == keyword


@pytest.mark.parametrize("word", ["step", "shop", "spot", "stomp", "quiet", "quite", "quiz",
                                  "cancer", "candle", "subscribe", "evoke", "top", "stox", "tsops"])
def test_words_out_of_reach_or_in_the_dictionary_are_not_typos(word):
    assert typos.typo_of(word) is None


DICTIONARY = Path("/usr/share/dict/words")


@pytest.mark.skipif(not DICTIONARY.exists(), reason="no word list on this machine")
def test_near_words_hold_every_dictionary_word_within_reach():
    with DICTIONARY.open() as lines:
        assert set(typos.near_words(lines)) <= typos.NEAR_WORDS


def test_a_tenants_own_keyword_is_never_a_typo_of_stop():
    assert compliance.classify("SROP", False).intent is OUT
    assert compliance.classify("SROP", False, compliance.vocabulary(reserved=["Srop"])) is None


def test_a_program_adds_words_in_its_languages():
    program = ProgramDef(id="alerts", compliance_words={
        "en": {"opt_out": ["UNJOIN"], "help": ["SUPPORT"], "opt_in": ["RESUME"]},
        "es": {"opt_out": ["SALIRME"]}})
    vocab = compliance.vocabulary(program.words_by_language)
    assert compliance.classify("unjoin", False, vocab).intent is OUT
    assert compliance.classify("support", False, vocab).intent is HELP
    assert compliance.classify("RESUME", True, vocab).intent is IN
    assert compliance.classify("salirme", False, vocab) == compliance.Understood(OUT, "es", "keyword")
    assert compliance.classify("unjoin", False) is None  # other programs do not have it
    for mandatory in ("STOP", "PARAR", "HELP", "AYUDA"):
        assert compliance.classify(mandatory, False, vocab) is not None


@pytest.mark.parametrize("words, error", [
    ({"en": {"help": ["STOP"]}}, "'STOP' already means opt_out"),
    ({"en": {"opt_in": ["AYUDA"]}}, "'AYUDA' already means help"),
    ({"es": {"opt_out": ["COMENZAR"]}}, "'COMENZAR' already means opt_in"),
    ({"en": {"opt_out": ["GOODBYE"], "help": ["GOODBYE"]}}, "'GOODBYE' is also a opt_out word"),
    ({"en": {"opt_out": ["..."]}}, "reads as no word"),
    ({"EN!": {"opt_out": ["BYE"]}}, "not a language code"),
    ({"fr": {"opt_out": ["ARRETEZ"]}}, "language 'fr' has no built-in texts: set texts.fr.help"),
], ids=["help=STOP", "opt_in=AYUDA", "opt_out=COMENZAR", "two kinds", "no word", "bad code",
        "language without texts"])
def test_a_program_cannot_add_words_that_collide(words, error):
    with pytest.raises(ValidationError, match=error.replace("(", r"\(").replace(".", r"\.")):
        ProgramDef(id="p", compliance_words=words)


def test_a_join_keyword_cannot_be_a_compliance_word():
    with pytest.raises(ValidationError, match="join_keywords: 'STOP' already means opt_out"):
        ProgramDef(id="p", join_keywords=["STOP"])


def test_a_program_in_another_language_brings_its_texts_and_words():
    texts = {kind: f"fr {kind}" for kind in ("help", "opt_out", "opt_out_all", "opt_in",
                                              "confirm_request", "confirmed", "clarify")}
    program = ProgramDef(id="fr", language="fr", texts={"fr": texts},
                         compliance_words={"fr": {"opt_out": ["ARRÊTEZ"], "help": ["AIDE"]}})
    vocab = compliance.vocabulary(program.words_by_language)
    assert compliance.classify("Arrêtez!", False, vocab) == compliance.Understood(OUT, "fr", "keyword")
    assert program.text("help", "fr") == "fr help"
    assert program.text("help", "es").startswith("{brand}: mensajes de marketing")


def test_built_in_words_mean_one_thing_each():
    seen: dict[str, str] = {}
    for language in compliance.LANGUAGES.values():
        for kind in compliance.KINDS:
            for word in getattr(language, kind):
                key = compliance.entry_key(word)
                assert seen.setdefault(key, kind) == kind, (word, kind, seen[key])
    mandatory = compliance.mandatory_words()
    for kind, words in mandatory.items():
        for word in words:
            assert compliance.DEFAULT.table[compliance.entry_key(word)][0] == kind, word


@pytest.mark.parametrize("text", ["🛑" * 1600, "stop " * 400, "s." * 900, "all the " * 300,
                                  "a1" * 900, "f*" * 900, "stop any more " * 130],
                         ids=["emoji", "stops", "spelt", "determiners", "leet", "masked", "any more"])
def test_the_longest_texts_are_read_to_the_end_without_failing(text):
    found = compliance.classify(text, False)
    assert (found is not None and found.intent is OUT) == text.startswith(("🛑", "stop stop"))
