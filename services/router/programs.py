"""Programs: what a subscriber consents to. A tenant has one or more (e.g. "marketing",
"order alerts"), each with its sending numbers, texts, join keywords, welcome flow and language.
STOP sent to a program's number opts out of that program (of all the tenant's programs once the
FCC's revoke-all rule is in force: `revoke_all.py`); STOPALL opts out of every program.

Texts follow the CTIA opt-in disclosure: brand, recurring automated marketing, frequency,
"Msg & data rates may apply", HELP and STOP. Built-in texts exist in English and Spanish
(`languages.py`); a program in another language brings its own.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from libs.common.definitions import WithBrand, sent_with
from libs.common.inputs import Input
from services.router import compliance, languages
from services.router.effects import render
from services.router.flows.model import SLUG, Keyword

DEFAULT_PROGRAM = "default"
LANGUAGE = r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$"
TEXT_KINDS = ("help", "opt_out", "opt_out_all", "opt_in", "confirm_request", "confirmed", "clarify")
WORD_KINDS = ("opt_out", "help", "opt_in")


class ProgramTexts(BaseModel):
    """A program's texts in one language; unset ones are the built-in texts of that language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    help: Annotated[str | None, WithBrand] = Field(None, max_length=1600)
    opt_out: Annotated[str | None, WithBrand] = Field(None, max_length=1600)
    opt_out_all: Annotated[str | None, sent_with("brand", "kept")] = Field(
        None, max_length=1600,
        description="Everything stopped (STOPALL, revoke-all); {kept} lists programs that stay.")
    opt_in: Annotated[str | None, WithBrand] = Field(
        None, max_length=1600, description="Subscribed again (START).")
    confirm_request: Annotated[str | None, WithBrand] = Field(None, max_length=1600)
    confirmed: Annotated[str | None, WithBrand] = Field(None, max_length=1600)
    clarify: Annotated[str | None, WithBrand] = Field(
        None, max_length=1600, description="Asked once after an unclear text.")


class ProgramWords(BaseModel):
    """Words a program adds in one language; the built-in words always stay."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opt_out: list[str] = Field([], max_length=50)
    help: list[str] = Field([], max_length=50)
    opt_in: list[str] = Field([], max_length=50)


class ProgramDef(Input):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SLUG)
    name: str = Field("", max_length=200)
    numbers: list[str] = Field([], description="Sending numbers that belong to this program.")
    join_keywords: list[Keyword] = Field(["JOIN"], description="Keywords that start a double opt-in.")
    help_text: Annotated[str | None, WithBrand] = Field(None, max_length=1600)
    confirm_request_text: Annotated[str | None, WithBrand] = Field(None, max_length=1600)
    opt_in_text: Annotated[str | None, WithBrand] = Field(
        None, max_length=1600, description="Sent once consent is confirmed.")
    opt_out_text: Annotated[str | None, WithBrand] = Field(None, max_length=1600)
    welcome_flow: str | None = Field(None, pattern=SLUG, description="Started on confirmation.")
    opt_in_expiry_hours: int = Field(24, ge=1, le=24 * 30)
    language: str | None = Field(None, pattern=LANGUAGE, description=(
        "Language of the program's texts (en, es, or another given in `texts`); unset: each "
        "compliance answer is in the language of the word the subscriber used."))
    texts: dict[str, ProgramTexts] = Field({}, description="Texts per language.")
    compliance_words: dict[str, ProgramWords] = Field({}, description=(
        "Opt-out, help and opt-in words the program adds, per language."))
    consent_exempt: bool = Field(False, description=(
        "Sends only messages exempt from the TCPA consent requirement (47 CFR 64.1200(a)(3), "
        "(a)(9)): a revocation sent to another program leaves it (revoke-all)."))

    @field_validator("texts", "compliance_words")
    @classmethod
    def _languages(cls, value: dict) -> dict:
        for code in value:
            if not re.match(LANGUAGE, code):
                raise ValueError(f"{code!r} is not a language code (e.g. en, es, fr, pt-br)")
        return value

    @field_validator("compliance_words")
    @classmethod
    def _words_mean_one_thing(cls, value: dict[str, ProgramWords]) -> dict[str, ProgramWords]:
        seen: dict[str, str] = {}
        for code, words in value.items():
            for kind in WORD_KINDS:
                for word in getattr(words, kind):
                    if (why := compliance.collision(word, kind)) is not None:
                        raise ValueError(f"{code}.{kind}: {why}")
                    key = compliance.entry_key(word)
                    if seen.setdefault(key, kind) != kind:
                        raise ValueError(f"{code}.{kind}: {word!r} is also a {seen[key]} word")
        return value

    @model_validator(mode="after")
    def _every_language_has_its_texts(self) -> ProgramDef:
        for code in {self.language, *self.compliance_words} - {None, *languages.BUILT_IN}:
            given = self.texts.get(code) or ProgramTexts()
            if missing := [k for k in TEXT_KINDS if getattr(given, k) is None]:
                raise ValueError(f"language {code!r} has no built-in texts: set texts.{code}."
                                 f"{missing[0]} (and {', '.join(missing[1:]) or 'nothing else'})")
        for keyword in self.join_keywords:
            key = compliance.entry_key(keyword)
            found = compliance.vocabulary(self.words_by_language).table.get(key or "")
            if found is not None and found[0] not in ("yes", "unclear"):
                raise ValueError(f"join_keywords: {keyword!r} already means {found[0]}")
        return self

    @property
    def words_by_language(self) -> dict[str, dict[str, list[str]]]:
        return {code: {k: getattr(w, k) for k in WORD_KINDS} for code, w in self.compliance_words.items()}

    def text(self, kind: str, language: str, tenant_texts: dict[str, str | None] | None = None) -> str:
        """The template for `kind` in `language`: the program's text for that language, its
        top-level text (written in its `language`, English when unset), the tenant's (English),
        else the built-in text of the language."""
        own = self.texts.get(language)
        if own is not None and getattr(own, kind) is not None:
            return getattr(own, kind)
        if language == (self.language or "en"):
            legacy = {"help": self.help_text, "opt_out": self.opt_out_text,
                      "confirmed": self.opt_in_text, "confirm_request": self.confirm_request_text}
            if legacy.get(kind):
                return legacy[kind]
        if language == "en" and tenant_texts and tenant_texts.get(kind):
            return tenant_texts[kind]
        return getattr(languages.texts(language), kind)


def fill(template: str, brand: str, **more: str) -> str:
    """`{brand}` (and `{kept}`…) filled in; any other braces are left for the sender."""
    return render(template, {"brand": brand, **more})


def confirm_request(brand: str) -> str:
    return fill(languages.ENGLISH.texts.confirm_request, brand)


def implicit_default() -> ProgramDef:
    return ProgramDef(id=DEFAULT_PROGRAM, name="Default")
