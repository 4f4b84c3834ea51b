"""Router API models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from libs.common.definitions import WithBrand
from libs.common.inputs import Input

TENANT_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"


class TenantIn(Input):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=TENANT_ID, description="Slug used in webhook URLs.")
    name: str = Field(min_length=1, max_length=200)
    brand: str | None = Field(None, max_length=200, description="Brand named in compliance texts.")
    help_text: Annotated[str | None, WithBrand] = Field(None, max_length=1600)


class TenantOut(BaseModel):
    id: str
    name: str
    brand: str
    help_text: str | None
    opt_out_text: str | None = None
    opt_in_text: str | None = None
    handoff_text: str | None = None
    fallback_to_agent: bool = False
    revoke_all_from: date | None = None
    created_at: datetime


class TenantCreated(TenantOut):
    api_key: str = Field(description="Shown once; only its hash is stored.")


class ApiKeyCreated(BaseModel):
    id: str
    api_key: str


class CredentialsIn(Input):
    """Carrier secrets (auth tokens, public keys, basic-auth pairs): stored encrypted."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, str] = Field(min_length=1)


class CredentialsOut(BaseModel):
    carrier: str
    fields: list[str] = Field(description="Which fields are set; values are never returned.")
    updated_at: datetime


class TenantPatch(Input):
    """Program texts and routing preferences; omitted fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    brand: str | None = Field(None, min_length=1, max_length=200)
    help_text: Annotated[str | None, WithBrand] = Field(None, max_length=1600)
    opt_out_text: Annotated[str | None, WithBrand] = Field(None, max_length=1600)
    opt_in_text: Annotated[str | None, WithBrand] = Field(None, max_length=1600)
    handoff_text: Annotated[str | None, WithBrand] = Field(None, max_length=1600, description=(
        "Sent once when a subscriber's text hands the conversation to an agent; null = the "
        "default, empty = none."))
    fallback_to_agent: bool | None = None
    revoke_all_from: date | None = Field(None, description=(
        "From this date (00:00 UTC) a STOP to one program's number opts out of all the tenant's "
        "programs except consent-exempt ones (the FCC's revoke-all rule, 47 CFR 64.1200(a)(10), "
        "in force 2027-01-31, the default); null: only the program texted."))
