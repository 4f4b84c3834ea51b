"""Where in a YAML definition an error points: the line and column of the node a validation
error's `loc` names, so an editor can mark the line. Pure.

The mapping is generic over `loc` (any rule, any depth): the document's node tree (PyYAML's
`compose`, which keeps each node's position) is walked along the path as far as it goes. A part
of the path the document does not hold (a union's tag such as `reply` in
`actions.0.reply.text`, or a field that is missing) is stepped over, so the error lands on the
deepest node that is there: the missing field's parent, the union member's mapping. A mapping
entry points at its key (for a nested block the key's line is where it starts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import yaml

Position = tuple[int, int]  # 1-based line and column


def locate(source: str | bytes, loc: Sequence[str | int]) -> Position | None:
    """The position of the node `loc` names in `source`; None when `source` is not YAML."""
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if root is None:
        return None
    node, mark = root, root.start_mark
    for part in loc:
        found = _child(node, part)
        if found is None:
            continue  # not in the document: stay on the deepest node that is
        mark, node = found
    return mark.line + 1, mark.column + 1


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Mark, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key.start_mark, value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item.start_mark, item
    return None


def annotate(errors: Iterable[dict], source: str | bytes) -> list[dict]:
    """Each error with the `line` and `column` its `loc` points at (when it points somewhere)."""
    out = []
    for error in errors:
        position = locate(source, error.get("loc", ()))
        out.append({**error, "line": position[0], "column": position[1]} if position else dict(error))
    return out


def syntax_error(exc: yaml.YAMLError) -> dict:
    """A YAML syntax error as an error record, with the line and column PyYAML reports."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    error: dict = {"loc": [], "msg": f"malformed YAML: {exc}"}
    if mark is not None:
        error.update(line=mark.line + 1, column=mark.column + 1)
    return error
