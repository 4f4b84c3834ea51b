"""Matching a reply to the options a prompt offers: tables of (options, reply → option or None),
with the replies that must NOT match. Pure: `matching` over normalised text."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.router import matching
from services.router.normalise import normalise

DIGITS = (matching.Option("1", ("1",)), matching.Option("2", ("2",)), matching.Option("3", ("3",)))
WORDS = (matching.Option("ONE", ("ONE",)), matching.Option("TWO", ("TWO",)),
         matching.Option("THREE", ("THREE",)))
STARS = (matching.Option("1-2", low=1, high=2), matching.Option("3-3", low=3, high=3),
         matching.Option("4-5", low=4, high=5))
LETTERS = (matching.Option("A", ("A", "PRICE")), matching.Option("B", ("B", "STYLE")),
           matching.Option("C", ("C", "QUALITY")))
SHOES = (matching.Option("SHOES", ("SHOES",), synonyms=("sneakers", "trainers")),
         matching.Option("BAGS", ("BAGS",), synonyms=("purse",)))
YES_NO = (matching.Option("YES", ("YES",)), matching.Option("NO", ("NO",)))
GO = (matching.Option("GO", ("GO",)),)


@dataclass(frozen=True)
class Case:
    options: tuple[matching.Option, ...]
    reply: str
    expect: str | None  # the option's key, or None: nothing matches (the step's fallback)
    stage: str | None = None


CASES = {
    # number words and ordinals where the options are digits
    "one → 1": Case(DIGITS, "one", "1", "number"),
    "Two → 2": Case(DIGITS, "Two", "2", "number"),
    "THREE! → 3": Case(DIGITS, "THREE!", "3", "number"),
    "first → 1": Case(DIGITS, "first", "1", "number"),
    "the second one → 2": Case(DIGITS, "the second one", "2", "number"),
    "#2 → 2": Case(DIGITS, "#2", "2"),
    "option 2 → 2": Case(DIGITS, "option 2", "2"),
    "2nd → 2": Case(DIGITS, "2nd", "2", "number"),
    "3rd please → 3": Case(DIGITS, "3rd please", "3", "number"),
    "number one → 1": Case(DIGITS, "number one", "1", "number"),
    "keycap 2️⃣ → 2": Case(DIGITS, "2️⃣", "2"),
    "I'd say 3 → 3": Case(DIGITS, "I'd say 3", "3"),
    "7 is not an option": Case(DIGITS, "7", None),
    "seven is not an option": Case(DIGITS, "seven", None),
    "fourth is not an option": Case(DIGITS, "fourth", None),
    "1 is never 7 (no fuzzy digits)": Case((matching.Option("7", ("7",)),), "1", None),
    "won is not one": Case(DIGITS, "won", None),
    "the one with laces is not 1": Case(DIGITS, "the one with laces", None),
    "12 is not 1 or 2": Case(DIGITS, "12", None),
    # and the other way round: options written as words
    "1 → ONE": Case(WORDS, "1", "ONE", "number"),
    "#2 → TWO": Case(WORDS, "#2", "TWO", "number"),
    "third → THREE": Case(WORDS, "third", "THREE", "number"),
    "one → ONE (exact)": Case(WORDS, "one", "ONE", "exact"),
    "4 is not an option of words": Case(WORDS, "4", None),
    # star ratings in every form
    "five stars": Case(STARS, "five stars", "4-5", "number"),
    "5 stars": Case(STARS, "5 stars", "4-5", "number"),
    "5/5": Case(STARS, "5/5", "4-5", "number"),
    "4 out of 5": Case(STARS, "4 out of 5", "4-5", "number"),
    "⭐⭐⭐⭐⭐": Case(STARS, "⭐⭐⭐⭐⭐", "4-5", "number"),
    "⭐️⭐️ (with variation selectors)": Case(STARS, "⭐️⭐️", "1-2", "number"),
    "★★★": Case(STARS, "★★★", "3-3", "number"),
    "*****": Case(STARS, "*****", "4-5", "number"),
    "3 ⭐": Case(STARS, "3 ⭐", "3-3", "number"),
    "one star": Case(STARS, "one star", "1-2", "number"),
    "6 stars is out of range": Case(STARS, "6 stars", None),
    "⭐⭐⭐⭐⭐⭐ is out of range": Case(STARS, "⭐⭐⭐⭐⭐⭐", None),
    "great stars is no number": Case(STARS, "great stars", None),
    # digit options also take stars
    "⭐⭐ → 2": Case(DIGITS, "⭐⭐", "2", "number"),
    # letters, even where the letter is also a word ("a", "i")
    "a": Case(LETTERS, "a", "A"),
    "a)": Case(LETTERS, "a)", "A"),
    "(b)": Case(LETTERS, "(b)", "B"),
    "option c": Case(LETTERS, "option c", "C"),
    "Option A": Case(LETTERS, "Option A", "A", "letter"),
    "letter b please": Case(LETTERS, "letter b please", "B", "letter"),
    "c.": Case(LETTERS, "c.", "C"),
    "I pick b": Case(LETTERS, "I pick b", "B", "letter"),
    "the word still matches": Case(LETTERS, "style", "B", "exact"),
    "d is not an option": Case(LETTERS, "d", None),
    "option d is not an option": Case(LETTERS, "option d", None),
    "a sentence with 'a' is no letter": Case(LETTERS, "a lot of options", None),
    # synonyms take part in fuzzy matching like keywords
    "Sneaker → sneakers": Case(SHOES, "Sneaker", "SHOES", "fuzzy"),
    "trainrs → trainers": Case(SHOES, "trainrs", "SHOES", "fuzzy"),
    "pures → purse": Case(SHOES, "pures", "BAGS", "fuzzy"),
    "shose → SHOES": Case(SHOES, "shose", "SHOES", "fuzzy"),
    "sneakers (exact synonym)": Case(SHOES, "sneakers", "SHOES", "synonym"),
    "pizza matches nothing": Case(SHOES, "pizza", None),
    "snacks is not sneakers": Case(SHOES, "snacks", None),
    # short keywords never match fuzzily
    "NO is never GO": Case(GO, "NO", None),
    "GI is not GO": Case(GO, "GI", None),
    "NO in a YES/NO step": Case(YES_NO, "NO", "NO", "exact"),
    "nope → NO": Case(YES_NO, "nope", "NO", "synonym"),
    "Sí → YES": Case(YES_NO, "Sí", "YES", "synonym"),
    "no gracias → NO": Case(YES_NO, "no gracias", "NO", "synonym"),
    "yse is not YES (short)": Case(YES_NO, "yse", None),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_reply_matches_the_expected_option(case: Case):
    found = matching.match(normalise(case.reply), matching.compile_options(case.options))
    assert (found.key if found else None) == case.expect, found
    if case.stage is not None:
        assert found.stage == case.stage, found


def test_a_number_answer_keeps_its_value():
    found = matching.match(normalise("the second one"), matching.compile_options(DIGITS))
    assert found.number == 2
    found = matching.match(normalise("five stars"), matching.compile_options(STARS))
    assert found.number == 5
