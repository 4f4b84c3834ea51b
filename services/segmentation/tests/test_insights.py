"""Unmatched replies, pure: normalising, clustering near-duplicates and suggesting a fix."""

from __future__ import annotations

import pytest

from services.segmentation.insights import (
    Cluster,
    OptionWords,
    Row,
    cluster,
    flow_options,
    normalise,
    rule_options,
    suggest,
)


@pytest.mark.parametrize("raw, text", [
    ("Sneakers!", "sneakers"), ("SNEAKERS 👟", "sneakers"), ("  sneakers...  ", "sneakers"),
    ("Café crème", "cafe creme"), ("¿Qué hora es?", "que hora es"), ("don't know", "don t know"),
    ("👍👍", "👍👍"), ("👍 👍", "👍👍"), ("ＳＨＯＥＳ", "shoes"),
])
def test_normalise_folds_case_accents_punctuation_and_emoji(raw, text):
    assert normalise(raw) == text


def test_near_duplicates_cluster_and_the_most_frequent_raw_text_is_the_example():
    rows = [Row("sneakers", "Sneakers!", 3, "shop", "ask"), Row("sneakers", "sneakers", 1, "shop", "ask"),
            Row("sneaker", "sneaker", 2, "shop", "ask"), Row("snekers", "snekers", 1, "shop", "ask"),
            Row("sneakers please", "sneakers please", 1, "promo", "pick"),
            Row("boots", "Boots", 2, "shop", "ask"), Row("no", "no", 1), Row("go", "go", 1)]
    got = cluster(rows)
    assert [(c.text, c.count) for c in got] == [("sneakers", 8), ("boots", 2), ("go", 1), ("no", 1)]
    top = got[0]
    assert top.example == "Sneakers!" and dict(top.texts) == {"sneakers": 4, "sneaker": 2, "snekers": 1,
                                                             "sneakers please": 1}
    assert top.mostly_at == ("shop", "ask", None) and top.where[("promo", "pick", None)] == 1


SHOP = [OptionWords("SHOES", ("shoes",), ("shoe", "trainers")), OptionWords("BAGS", ("bags",)),
        OptionWords("YES", ("yes",), ("y", "yeah")), OptionWords("1-5", low=1, high=5)]
LETTERS = [OptionWords("A", ("a", "red")), OptionWords("B", ("b", "blue"))]


def one(text: str, raw: str | None = None, count: int = 3) -> Cluster:
    (c,) = cluster([Row(text, raw or text, count)])
    return c


@pytest.mark.parametrize("text, raw, options, action, option, says", [
    ("yse", None, SHOP, "add_synonym", "YES", "add 'yse' as a synonym of YES: 3 replies"),
    ("ys", None, SHOP, "add_synonym", "YES", "add 'ys' as a synonym of YES: 3 replies"),
    ("the shoe one", None, SHOP, "add_synonym", "SHOES",
     "add 'the shoe one' as a synonym of SHOES: 3 replies"),
    ("trainer", None, SHOP, "add_synonym", "SHOES", "add 'trainer' as a synonym of SHOES"),
    ("bgs", None, SHOP, "add_synonym", "BAGS", "as a synonym of BAGS"),
    ("7", None, SHOP, "out_of_range", None,
     "'7' is outside the numbers the options take (1-5): say the valid answers in the prompt: 3 replies"),
    ("7", None, LETTERS, "out_of_range", None, "'7' is a number, and no option takes one"),
    ("d", "D", LETTERS, "out_of_range", None, "'d' is not one of the letters offered (A, B)"),
    ("what time do you close", "What time do you close?", SHOP, "answer_question", None,
     "a question ('What time do you close?'): answer it in the prompt or route it to an agent: 3 replies"),
    ("how much", "how much", SHOP, "answer_question", None, "answer it in the prompt"),
    ("sneakers", None, SHOP, "new_option", None, "consider a new option for 'sneakers': 3 replies"),
    ("n", None, SHOP, "new_option", None, "consider a new option for 'n'"),  # one letter is no typo of YES
    ("go", None, [OptionWords("NO", ("no",))], "new_option", None, "consider a new option"),
])
def test_suggestions(text, raw, options, action, option, says):
    s = suggest(one(text, raw), options)
    assert (s.action, s.option) == (action, option) and says in s.text


def test_one_reply_is_one_reply():
    assert suggest(one("blue", count=1), SHOP).text == "consider a new option for 'blue': 1 reply"


def test_options_are_read_from_the_stored_flow_and_rule_definitions():
    flow = {"id": "shop", "start": "ask", "steps": {
        "ask": {"options": [{"keywords": ["Shoes", "SH"], "synonyms": ["trainers"], "range": None},
                            {"keywords": [], "range": [1, 5]}, {"any": True}, "junk"]},
        "thanks": {"options": [{"keywords": ["bye"]}]}, "broken": "not a step"}}
    got = flow_options(flow, "ask")
    assert got == [OptionWords("SHOES", ("shoes", "sh"), ("trainers",)), OptionWords("1-5", low=1, high=5)]
    assert [o.key for o in flow_options(flow, None)] == ["SHOES", "1-5", "BYE"]
    assert flow_options({"steps": None}, "ask") == [] and flow_options(None, "ask") == []
    rules = [{"keywords": ["deal", "deals"]}, {"keywords": []}, None]
    assert [o.key for o in rule_options(rules)] == ["DEAL"]
