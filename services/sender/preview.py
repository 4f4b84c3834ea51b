"""What a message would cost before it is sent: the text as the sender would send it (tracked
links at their real length, look-alikes replaced when the tenant lets them be), its encoding,
segments and the characters that decide them. The same functions the pipeline uses (`links`,
`lookalikes`, `segments`), so a preview cannot disagree with the send. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from services.sender import links
from services.sender.lookalikes import LOOKALIKES, to_gsm7
from services.sender.segments import GSM7_BASIC, GSM7_EXTENSION, count_segments, is_gsm7, units

CODE_LENGTH = len(links.new_code())  # every short link has a code of this length


@dataclass(frozen=True)
class Preview:
    body: str  # as it would be sent
    characters: int
    encoding: str  # GSM-7 | UCS-2
    segments: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    per_segment: int  # what one segment holds at this length (160/153, 70/67)
    replaced: list[dict]  # [{"char", "with", "count"}]: look-alikes the sender replaces
    ucs2_characters: list[str]  # the characters that keep the text out of GSM-7


def preview(body: str, replace_lookalikes: bool, link_base: str) -> Preview:
    text, _ = links.rewrite(body, link_base, code=lambda: "x" * CODE_LENGTH)
    sent = to_gsm7(text) if replace_lookalikes else text
    replaced = [] if sent == text else [
        {"char": c, "with": LOOKALIKES[c], "count": text.count(c)}
        for c in dict.fromkeys(text) if c in LOOKALIKES]
    used, single, part = units(sent)
    return Preview(
        body=sent, characters=len(sent), encoding="GSM-7" if is_gsm7(sent) else "UCS-2",
        segments=count_segments(sent), units=used, per_segment=single if used <= single else part,
        replaced=replaced,
        ucs2_characters=[c for c in dict.fromkeys(sent)
                         if c not in GSM7_BASIC and c not in GSM7_EXTENSION])
