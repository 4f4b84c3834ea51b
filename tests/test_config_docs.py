"""The README's configuration table lists exactly the settings the code reads, with their defaults."""

from __future__ import annotations

import re
from pathlib import Path

from libs.common.config import env_table

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_rows() -> dict[str, str]:
    text = README.read_text()
    block = text.split("<!-- env-table:start -->")[1].split("<!-- env-table:end -->")[0]
    rows = {}
    for line in block.splitlines():
        m = re.match(r"\| `(PARLEY_[A-Z_]+)` \|\s*`?([^|`]*?)`?\s*\|", line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    return rows


def test_every_setting_is_in_the_readme_table_with_its_default():
    documented = readme_rows()
    code = {name: default for name, default, _ in env_table()}
    assert documented == code
