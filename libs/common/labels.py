"""Label and attribute names: what is accepted, normalised once at the edge (events and REST).
Segmentation stores them; the router checks the labels and attributes a flow or campaign names
against the same rules when it is saved.

Labels are lower case without spaces (`interest:shoes`, `intent:deal`); attribute names are
identifiers (`city`, `shoe_size`, `loyalty.tier`). Names never declared anywhere are fine: they
simply match nobody in a segment.
"""

from __future__ import annotations

import re

LABEL = re.compile(r"^[a-z0-9][a-z0-9:_\-./]{0,63}$")
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
LABEL_RULE = "lower-case letters, digits and : _ - . / (at most 64, no spaces)"
ATTRIBUTE_RULE = "a letter or _, then letters, digits, _ . - (at most 64)"


def clean_label(raw: str | None) -> str | None:
    label = (raw or "").strip().casefold()
    return label if LABEL.match(label) else None


def clean_attribute_name(raw: str | None) -> str | None:
    name = (raw or "").strip()
    return name if ATTRIBUTE_NAME.match(name) else None
