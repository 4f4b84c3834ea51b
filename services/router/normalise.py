"""Stage 1 of understanding a reply: one canonical form to match against.

Trim, Unicode NFKC (full-width letters, ligatures), case-fold, curly quotes to straight, inner
whitespace collapsed, surrounding punctuation and emoji stripped. A reply that is nothing but
emoji keeps its emoji, so "👍" can still mean YES.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w]+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00b4": "'"})
MAX_MATCH_CHARS = 1600  # nothing longer is a keyword reply; longer texts are only scanned in part


_ASCII_NOISE = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r")


def _is_edge_noise(ch: str) -> bool:
    if ch.isascii():
        return ch in _ASCII_NOISE
    cat = unicodedata.category(ch)
    # P* punctuation, S* symbols (emoji are So), Z* separators, Cf format (ZWJ, variation selectors)
    return cat[0] in "PSZ" or cat == "Cf"


def normalise(text: str) -> str:
    text = text[:MAX_MATCH_CHARS]
    if not text.isascii():  # NFKC and quote folding cannot change pure ASCII: skip them
        text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = text.casefold()
    text = _SPACES.sub(" ", text).strip()
    start, end = 0, len(text)
    while start < end and _is_edge_noise(text[start]):
        start += 1
    while end > start and _is_edge_noise(text[end - 1]):
        end -= 1
    core = text[start:end]
    if core:
        return core
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf")


def tokens(normalised: str) -> list[str]:
    """Words with inner punctuation removed ("don't" → "dont", "opt-out" → "opt", "out")."""
    return [t for t in _NON_WORD.split(normalised.replace("'", "")) if t]


# --- the compliance form -------------------------------------------------------------------------

def _decorated_letters() -> dict[int, str]:
    """Letters NFKC leaves alone that people use to write STOP: negative circled and squared
    letters (🅢, 🆂), regional indicators (🇸), small capitals (ꜱᴛᴏᴘ) and the Cyrillic and Greek
    capitals that look Latin (ЅТОР)."""
    table: dict[int, str] = {}
    prefixes = ("NEGATIVE CIRCLED LATIN CAPITAL LETTER ", "NEGATIVE SQUARED LATIN CAPITAL LETTER ",
                "REGIONAL INDICATOR SYMBOL LETTER ", "LATIN LETTER SMALL CAPITAL ")
    for cp in (*range(0x1D00, 0x1D2C), 0xA730, 0xA731, *range(0x1F150, 0x1F18A),
               *range(0x1F1E6, 0x1F200)):
        name = unicodedata.name(chr(cp), "")
        for prefix in prefixes:
            if name.startswith(prefix) and len(letter := name[len(prefix):]) == 1:
                table[cp] = letter.lower()
    cyrillic = dict(zip("АВЕЅІЈКМНОРСТХУаеорсхуѕіј", "abesijkmhopctxyaeopcxysij", strict=True))
    greek = dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧοτ", "abezhikmnoptyxot", strict=True))
    table.update({ord(look): latin for look, latin in (cyrillic | greek).items()})
    return table


_LOOKALIKES = _decorated_letters() | _QUOTES


def fold(text: str) -> str:
    """Stage 1 for compliance: what a reply says with its decoration taken off. NFKC (full-width,
    mathematical letters), decorated and look-alike letters, case, accents and variation selectors
    removed ("Stóp" → "stop", "no más" → "no mas"). Punctuation and emoji stay: the compliance rules
    read "s.t.o.p", "$top" and "🛑" themselves."""
    text = text[:MAX_MATCH_CHARS]
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_LOOKALIKES)
        text = "".join(ch for ch in unicodedata.normalize("NFD", text)
                       if unicodedata.category(ch) != "Mn")
    return text.casefold()
