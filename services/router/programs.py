"""Programs: what a subscriber consents to. A tenant has one or more (e.g. "marketing",
"order alerts"), each with its sending numbers, texts, join keywords and welcome flow. STOP sent
to a program's number opts out of that program; STOPALL opts out of every program.

Texts follow the CTIA opt-in disclosure: brand, recurring automated marketing, frequency,
"Msg & data rates may apply", HELP and STOP.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from libs.common.definitions import AsWritten
from libs.common.inputs import Input
from services.router.flows.model import SLUG, Keyword

DEFAULT_PROGRAM = "default"


class ProgramDef(Input):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SLUG)
    name: str = Field("", max_length=200)
    numbers: list[str] = Field([], description="Sending numbers that belong to this program.")
    join_keywords: list[Keyword] = Field(["JOIN"], description="Keywords that start a double opt-in.")
    help_text: Annotated[str | None, AsWritten] = Field(None, max_length=1600)
    confirm_request_text: Annotated[str | None, AsWritten] = Field(None, max_length=1600)
    opt_in_text: Annotated[str | None, AsWritten] = Field(
        None, max_length=1600, description="Sent once consent is confirmed.")
    opt_out_text: Annotated[str | None, AsWritten] = Field(None, max_length=1600)
    welcome_flow: str | None = Field(None, pattern=SLUG, description="Started on confirmation.")
    opt_in_expiry_hours: int = Field(24, ge=1, le=24 * 30)


def confirm_request(brand: str) -> str:
    return (f"Reply Y to get recurring automated marketing texts from {brand}. Msg frequency varies. "
            "Msg & data rates may apply. Reply HELP for help, STOP to cancel.")


def confirmed(brand: str) -> str:
    return (f"{brand}: You're subscribed! Msg frequency varies. Msg & data rates may apply. "
            "Reply HELP for help, STOP to cancel.")


def implicit_default() -> ProgramDef:
    return ProgramDef(id=DEFAULT_PROGRAM, name="Default")
