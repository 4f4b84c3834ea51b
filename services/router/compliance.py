"""Compliance keywords, decided before any campaign rule, conversation state or fuzzy match.

CTIA Messaging Principles and Best Practices (opt-out: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END,
QUIT; HELP/INFO; START/UNSTOP to opt back in) and the FCC's 2024 TCPA order (effective 2025):
revocation by "any reasonable means", so plain-language requests ("leave me alone", "don't text
me") opt out too. Erring towards opt-out is the safe side: a missed STOP is a violation, an extra
confirmation is not.
"""

from __future__ import annotations

import re
from enum import StrEnum

from services.router.normalise import tokens


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_OUT_ALL = "opt_out_all"
    HELP = "help"
    OPT_IN = "opt_in"


OPT_OUT_WORDS = frozenset({"stop", "unsubscribe", "cancel", "end", "quit", "revoke", "optout",
                           "opt out", "stop all", "remove", "arret"})
OPT_OUT_ALL_WORDS = frozenset({"stopall", "stop all"})
HELP_WORDS = frozenset({"help", "info"})
OPT_IN_WORDS = frozenset({"start", "unstop"})
YES_WORDS = frozenset({"yes", "y", "yeah", "yep", "yup", "ok", "okay", "sure", "yes please", "👍"})

# Short words said around a keyword that do not change its meaning ("stop please", "pls stop!").
POLITENESS = frozenset({"please", "pls", "plz", "thanks", "thank", "you", "thx", "ty", "now",
                        "asap", "kindly", "just", "ok", "okay", "sorry", "hi", "hey", "hello",
                        "me", "it", "all", "messages", "texts", "texting"})

# Plain-language revocations, matched as whole-word phrases anywhere in the message.
REVOCATIONS: tuple[str, ...] = (
    "leave me alone", "dont text me", "do not text me", "dont message me", "do not message me",
    "dont contact me", "do not contact me", "stop texting", "stop messaging", "stop sending",
    "stop contacting", "remove me", "take me off", "no more texts", "no more messages",
    "no more text", "unsubscribe me", "opt me out", "i want out", "lose my number",
    "delete my number", "wrong number",
)
_REVOCATION = re.compile(r"(?:^| )(?:" + "|".join(map(re.escape, REVOCATIONS)) + r")(?: |$)")


def _core(words: list[str]) -> str:
    """The message without politeness around it: "please stop now" → "stop"."""
    kept = [w for w in words if w not in POLITENESS]
    return " ".join(kept) if kept else " ".join(words)


def classify(normalised: str, opted_out: bool) -> Intent | None:
    """The compliance meaning of a reply, or None when it has none."""
    if opted_out and normalised in YES_WORDS:
        return Intent.OPT_IN
    words = tokens(normalised)
    if not words or len(words) > 12:  # long texts are conversation, unless they revoke below
        return _revocation(words) if words else None
    core = _core(words)
    if core in OPT_OUT_ALL_WORDS or normalised.replace(" ", "") == "stopall":
        return Intent.OPT_OUT_ALL
    if core in OPT_OUT_WORDS or " ".join(words) in OPT_OUT_WORDS:
        return Intent.OPT_OUT
    if (revoked := _revocation(words)) is not None:
        return revoked
    if core in HELP_WORDS:
        return Intent.HELP
    if core in OPT_IN_WORDS or (opted_out and (core in YES_WORDS or normalised in YES_WORDS)):
        return Intent.OPT_IN
    return None


def _revocation(words: list[str]) -> Intent | None:
    return Intent.OPT_OUT if _REVOCATION.search(" ".join(words)) else None
