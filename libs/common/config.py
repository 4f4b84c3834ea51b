"""Settings shared by every service, read from `PARLEY_*` environment variables.

The backends (bus and database) are chosen here and nowhere else: services receive a bus and a
session factory built from these values and never branch on which one they got.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# What each backend needs to run under asyncio: the embedded SQLite file and PostgreSQL.
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
# Kafka's rule for group.instance.id, less room for the group and topic appended to it.
INSTANCE_ID = re.compile(r"^[A-Za-z0-9._-]{1,180}$")


class Misconfigured(Exception):
    """A setting that cannot work: waiting will not fix it, so the service exits naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="ignore")

    # Where things run
    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(8080, description="HTTP port. The embedded suite serves everything on it; a service "
                                        "run alone defaults to its own: ingress 8080, router 8081, "
                                        "sender 8082, segmentation 8083.")
    data_dir: Path = Field(Path(".parley"), description="Embedded mode: SQLite file and demo key.")
    public_base_url: str | None = Field(
        None, description="Public URL carriers call (for webhook signatures behind a proxy)."
    )

    # Backends
    bus: Literal["memory", "kafka"] = Field("memory", description="Event bus backend.")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    topic_prefix: str = Field("", description="Prefix for every topic name (shared clusters).")
    partitions: int = Field(8, ge=1, description="Partitions per topic when Parley creates them.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How the services connect to Kafka; managed clusters mostly want SASL_SSL.")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism (with a SASL_* protocol).")
    kafka_sasl_username: str | None = Field(None, description="SASL user name (with a SASL_* protocol).")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (with a SASL_* protocol).")
    kafka_ssl_cafile: str | None = Field(
        None, description="CA bundle for the brokers' certificates (SSL/SASL_SSL); default: the system's.")
    kafka_ssl_certfile: str | None = Field(
        None, description="Client certificate, for brokers that require mutual TLS.")
    kafka_ssl_keyfile: str | None = Field(None, description="Private key of the client certificate.")
    instance_id: str | None = Field(
        None, description="This replica's stable name for Kafka static group membership (with the group "
                          "and topic appended); default: the host name, which is the pod name on "
                          "Kubernetes. Must differ between replicas: leave it out of shared config.")
    kafka_static_membership: bool = Field(
        True, description="Rejoin consumer groups as the same member after a restart (10 s session), so a "
                          "container restarted in place takes its partitions back at once; off: "
                          "ordinary members with a 6 s session.")
    workers: int = Field(
        1, ge=0, le=64, description="Worker processes per service, each a member of the service's "
                                    "consumer groups and serving HTTP on one shared port; 0: one per "
                                    "core the process may use. Always 1 on the memory bus.")
    kafka_replication_factor: int = Field(
        1, ge=1, description="Replicas per topic when Parley creates them (3 on a production cluster).")
    bus_max_tries: int = Field(5, ge=1, description="Handler tries before a dead-letter topic.")
    bus_retry_backoff_ms: int = Field(50, ge=0, description="First retry pause, doubled each try.")
    publish_timeout_s: float = Field(
        2.0, gt=0, le=10, description="How long a publish waits for Kafka to take an event (seconds) "
                                      "before it fails and ingress answers 503; keep it under the "
                                      "carriers' webhook timeouts (Bandwidth 10 s, Twilio 15 s; Telnyx "
                                      "asks for a 2xx within 2 s and retries a slower answer).")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL; default sqlite+aiosqlite under PARLEY_DATA_DIR.",
    )
    migrate_on_start: bool = Field(True, description="Apply migrations when a service starts.")

    # Security
    admin_token: SecretStr | None = Field(None, description="Token that may create tenants.")
    secret_key: SecretStr = Field(
        SecretStr("parley-development-only-secret"),
        description="Key that encrypts carrier credentials at rest. Set it in production.",
    )

    # Behaviour
    consent_retention_days: int = Field(
        1461, ge=1461, description="Days consent evidence is kept (TCPA: at least four years).")
    import_max_bytes: int = Field(512 * 1024 * 1024, ge=1, description="Largest bulk import upload.")
    ledger_retention_days: int = Field(
        30, ge=1, description="Days the dedupe ledgers (processed events, accepted carrier ids, early "
                              "receipts) keep a row; keep it above the Kafka retention.")
    log_format: Literal["auto", "json", "console"] = Field("auto", description="Log renderer.")
    log_level: str = Field("INFO", description="Log level.")
    webhook_allow_private: bool = Field(
        False, description="Let flows' webhooks reach loopback and private addresses (10/8, 172.16/12, "
                           "192.168/16, 100.64/10, fc00::/7), for receivers on your own network; "
                           "link-local, multicast and cloud metadata addresses stay refused.")
    simulator: bool = Field(True, description="Serve the simulated carrier (embedded, demos).")
    simulator_receipts: bool = Field(
        True, description="The simulated carrier posts a delivery receipt to ingress's status webhook "
                          "after each send (outcome per phone: PUT /simulator/{tenant}/numbers/{phone}).")
    simulator_receipt_url: str | None = Field(
        None, description="Base URL of ingress, where the simulated carrier posts its receipts; "
                          "default PARLEY_PUBLIC_BASE_URL, else http://HOST:PORT.")
    simulator_receipt_delay_s: float = Field(
        0.5, ge=0, le=60, description="Seconds from a simulated send to its receipt.")
    demo: bool = Field(False, description="Create the demo tenant on start.")

    # Sending (sender)
    link_base_url: str | None = Field(
        None, description="Base of tracked short links (`<base>/l/<code>`); default "
                          "PARLEY_PUBLIC_BASE_URL, else http://HOST:PORT.")
    carrier_timeout_s: float = Field(
        10.0, gt=0, description="Timeout of one carrier API call (seconds); with the retry policy it sizes "
                                "the lease a sending worker holds a message under.")
    rate_limits: bool = Field(True, description="Enforce per-number send rates (off only for benchmarks).")
    rate_long_code: float = Field(
        1.0, ge=0, description="Segments per second per long code / 10DLC number (0 = unlimited).")
    rate_toll_free: float = Field(3.0, ge=0, description="Segments per second per toll-free number.")
    rate_short_code: float = Field(100.0, ge=0, description="Segments per second per short code.")
    twilio_base_url: str = Field("https://api.twilio.com", description="Twilio API base URL.")
    telnyx_base_url: str = Field("https://api.telnyx.com", description="Telnyx API base URL.")
    vonage_base_url: str = Field("https://rest.nexmo.com", description="Vonage SMS API base URL.")
    vonage_reports_base_url: str = Field(
        "https://api.nexmo.com", description="Vonage Reports API base URL (finding a send whose outcome "
                                             "is unknown).")
    plivo_base_url: str = Field("https://api.plivo.com", description="Plivo API base URL.")
    bandwidth_base_url: str = Field(
        "https://messaging.bandwidth.com", description="Bandwidth Messaging API base URL.")

    # The operator console (services/console)
    console_api_base_url: str = Field(
        "", description="Console: where the browser calls Parley's /v1 API (an origin such as "
                        "https://api.example.com); empty: the console's own origin.")
    console_upstreams: str = Field(
        "", description="Console: pass /v1 requests through to the service owning each prefix "
                        "(`/v1/flows=http://router:8080,…`), where no Ingress routes them (Compose); "
                        "empty: off.")

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            if self.bus == "kafka":
                # Each process would silently keep its own SQLite file: the services would not
                # share tenants, consent or anything else.
                raise ValueError("PARLEY_BUS=kafka needs PARLEY_DATABASE_URL (the PostgreSQL every "
                                 "service shares, postgresql+asyncpg://…); the embedded SQLite "
                                 "database belongs to one process only")
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'parley.db'}"
        _check_database_url(self.database_url)
        if self.instance_id and not INSTANCE_ID.match(self.instance_id):
            raise ValueError(f"PARLEY_INSTANCE_ID={self.instance_id!r}: use up to 180 letters, digits, "
                             "'.', '_' or '-'")
        return self

    @property
    def is_sqlite(self) -> bool:
        return str(self.database_url).startswith("sqlite")


def _check_database_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("PARLEY_DATABASE_URL is not a database URL; expected "
                         "postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if ASYNC_DRIVERS.get(backend) != driver:
        raise ValueError(f"PARLEY_DATABASE_URL uses {backend}+{driver}; Parley runs on "
                         "postgresql+asyncpg:// or sqlite+aiosqlite://")


def group_instance_id(settings: Settings, worker: int | None = None) -> str | None:
    """This process's Kafka group.instance.id stem (None: static membership off).

    Unique per replica and stable across its restarts: PARLEY_INSTANCE_ID, else the host name,
    which Kubernetes sets to the pod name and keeps when it restarts a container in place (the
    kill -9 case); a Deployment's replacement pod gets a new name, so a new member. A process that
    runs several workers of one service on one host passes each worker's index, so their ids differ.
    """
    if not settings.kafka_static_membership:
        return None
    stem = settings.instance_id or socket.gethostname().split(".")[0] or "parley"
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", stem)
    return stem if worker is None else f"{stem}-w{worker}"


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per invalid setting, named as its environment variable."""
    lines = []
    for err in exc.errors(include_url=False):
        names = [f"PARLEY_{str(part).upper()}" for part in err["loc"] if isinstance(part, str)]
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{names[0]}: {message}" if names else message)
    return lines


def env_table() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting: the README table is checked against it."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, SecretStr):
            default = "(development value)"
        rows.append((f"PARLEY_{name.upper()}", "" if default is None else str(default),
                     field.description or ""))
    return rows
