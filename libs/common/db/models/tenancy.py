"""Tenants and their secrets. Owner: router (/v1/tenants); ingress and sender read them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, LargeBinary, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db.base import Base, UtcDateTime


class Tenant(Base):
    __tablename__ = "tenant"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str] = mapped_column(String(200))
    help_text: Mapped[str | None] = mapped_column(Text)
    opt_out_text: Mapped[str | None] = mapped_column(Text)
    opt_in_text: Mapped[str | None] = mapped_column(Text)
    handoff_text: Mapped[str | None] = mapped_column(Text)  # None: the default; "": none sent
    fallback_to_agent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The FCC's revoke-all rule (47 CFR 64.1200(a)(10)) applies from this date; None: never.
    revoke_all_from: Mapped[date | None] = mapped_column(Date, default=date(2027, 1, 31),
                                                         server_default=text("'2027-01-31'"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiKey(Base):
    """Only a SHA-256 of the key is stored; the key itself is shown once, at creation."""

    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CarrierCredential(Base):
    """A tenant's secrets for one carrier, encrypted with PARLEY_SECRET_KEY (Fernet)."""

    __tablename__ = "carrier_credential"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True
    )
    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
