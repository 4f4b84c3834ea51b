"""Rule trees are validated before they are compiled: a bad node is refused with its path."""

from __future__ import annotations

import pytest

from services.segmentation import rules
from services.segmentation.api.common import loc_of

EXAMPLE = {"all": [{"label": "interest:shoes"},
                   {"clicked": {"within_days": 14, "tag": "shoe-offer"}},
                   {"score": {"gt": 70}}]}

BAD = [
    ({"all": []}, "rule.all", "non-empty list"),
    ({"all": {"label": "x"}}, "rule.all", "non-empty list"),
    ({"label": "x", "score": {"gt": 1}}, "rule", "exactly one key"),
    ("label:shoes", "rule", "exactly one key"),
    ({"any": [{"label": "a"}, {"clicked": {"within_days": -3}}]}, "rule.any[1].clicked.within_days",
     "whole number of days"),
    ({"clicked": {"within_days": 0}}, "rule.clicked.within_days", "whole number of days"),
    ({"replied": {"within_days": 2.5}}, "rule.replied.within_days", "whole number of days"),
    ({"score": {"gtt": 70}}, "rule.score.gtt", "unknown operator"),
    ({"score": {"gt": "high"}}, "rule.score.gt", "must be a number"),
    ({"score": {}}, "rule.score", "at least one comparison"),
    ({"not": {"nope": 1}}, "rule.not.nope", "unknown rule"),
    ({"attribute": {"name": "city", "like": "P%"}}, "rule.attribute.like", "unknown operator"),
    ({"attribute": {"eq": "Paris"}}, "rule.attribute", "name"),
    ({"attribute": {"name": "tags", "in": []}}, "rule.attribute.in", "list of 1 to 100"),
    ({"replied": {"tag": "x"}}, "rule.replied.tag", "unknown field"),
    ({"clicked": {"keyword": "x"}}, "rule.clicked.keyword", "unknown field"),
    ({"consent": "maybe"}, "rule.consent", "one of"),
    ({"label": ""}, "rule.label", "non-empty string"),
    ({"all": [{"any": [{"not": {"score": {"between": [1, 2]}}}]}]},
     "rule.all[0].any[0].not.score.between", "unknown operator"),
]


@pytest.mark.parametrize("raw, path, message", BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_a_bad_rule_names_the_path_of_the_bad_node(raw, path, message):
    with pytest.raises(rules.RuleError) as caught:
        rules.parse(raw)
    assert caught.value.path == path
    assert message in caught.value.message


def test_too_deep_a_tree_is_refused():
    raw: dict = {"label": "x"}
    for _ in range(rules.MAX_DEPTH + 1):
        raw = {"not": raw}
    with pytest.raises(rules.RuleError, match="nest"):
        rules.parse(raw)


def test_the_example_parses_into_typed_nodes():
    node = rules.parse(EXAMPLE)
    assert node == rules.Group("all", (
        rules.Label("interest:shoes"),
        rules.Activity("click", 14, (("tag", "shoe-offer"),)),
        rules.Score((("gt", 70.0),)),
    ))


def test_keywords_compare_case_insensitively_and_labels_are_lower_case():
    node = rules.parse({"all": [{"replied": {"keyword": "deal"}}, {"label": "Interest:Shoes"}]})
    assert node.children[0].filters == (("keyword", "DEAL"),)
    assert node.children[1] == rules.Label("interest:shoes")


def test_paths_become_fastapi_style_locations():
    assert loc_of("rule.any[1].clicked.within_days") == ["body", "rule", "any", 1, "clicked",
                                                         "within_days"]
    assert loc_of("rule") == ["body", "rule"]
