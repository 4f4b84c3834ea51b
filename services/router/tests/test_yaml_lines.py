"""Locating a validation error's `loc` in the YAML it came from (generic over any path)."""

from __future__ import annotations

import yaml

from services.router.yaml_lines import annotate, locate, syntax_error

FLOW = """\
id: survey
start: ask
steps:
  ask:
    prompt: Rate us
    max_fallbacks: 99
    options:
      - keywords: [YES]
        actions:
          - type: reply
            text: ""
      - range: [5, 1]
"""


def test_a_field_is_found_at_its_key():
    assert locate(FLOW, ["steps", "ask", "max_fallbacks"]) == (6, 5)
    assert locate(FLOW, ["start"]) == (2, 1)


def test_list_items_are_followed_by_index():
    assert locate(FLOW, ["steps", "ask", "options", 1]) == (12, 9)
    assert locate(FLOW, ["steps", "ask", "options", 1, "range"]) == (12, 9)


def test_a_union_tag_in_the_path_is_stepped_over():
    # pydantic names the discriminated member: actions.0.reply.text
    assert locate(FLOW, ["steps", "ask", "options", 0, "actions", 0, "reply", "text"]) == (11, 13)


def test_a_missing_field_points_at_its_parent_and_a_model_error_at_the_top():
    assert locate(FLOW, ["steps", "ask", "on_timeout", "after"]) == (4, 3)
    assert locate(FLOW, []) == (1, 1)


def test_not_yaml_locates_nothing_and_errors_keep_their_fields():
    assert locate("steps: [unclosed", ["steps"]) is None
    errors = annotate([{"loc": ["start"], "msg": "bad"}, {"loc": ["x"], "msg": "y"}], FLOW)
    assert errors == [{"loc": ["start"], "msg": "bad", "line": 2, "column": 1},
                      {"loc": ["x"], "msg": "y", "line": 1, "column": 1}]


def test_a_syntax_error_carries_the_line_pyyaml_reports():
    try:
        yaml.safe_load("id: x\nsteps:\n  a: [1, 2\n  b: 3\n")
    except yaml.YAMLError as exc:
        error = syntax_error(exc)
    assert error["msg"].startswith("malformed YAML") and error["line"] == 4
