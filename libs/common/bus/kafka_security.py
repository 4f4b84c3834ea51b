"""How the services authenticate to Kafka: the aiokafka options every client (producer, consumers,
admin) gets, from the PARLEY_KAFKA_SECURITY_PROTOCOL, _SASL_* and _SSL_* settings.

Managed clusters (Confluent Cloud, MSK, Aiven, Event Hubs) mostly want SASL_SSL with PLAIN or
SCRAM; a self-run cluster may want mutual TLS (SSL with a client certificate). Checked at start,
so a half-configured deployment fails with the setting to fix instead of timing out on connect.
"""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from libs.common.config import Misconfigured, Settings


class KafkaSecurityError(Misconfigured, ValueError):
    """The security settings cannot work together."""


def client_options(settings: Settings) -> dict[str, Any]:
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        if bool(settings.kafka_ssl_certfile) != bool(settings.kafka_ssl_keyfile):
            raise KafkaSecurityError("PARLEY_KAFKA_SSL_CERTFILE and PARLEY_KAFKA_SSL_KEYFILE go together")
        try:
            options["ssl_context"] = create_ssl_context(
                cafile=settings.kafka_ssl_cafile or None,
                certfile=settings.kafka_ssl_certfile or None,
                keyfile=settings.kafka_ssl_keyfile or None)
        except OSError as exc:  # a file that is missing or unreadable, a key that does not match
            raise KafkaSecurityError("PARLEY_KAFKA_SSL_CAFILE, _CERTFILE or _KEYFILE cannot be used: "
                                     f"{exc}") from exc
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        if not settings.kafka_sasl_username or not password:
            raise KafkaSecurityError(f"PARLEY_KAFKA_SECURITY_PROTOCOL={protocol} needs "
                                     "PARLEY_KAFKA_SASL_USERNAME and PARLEY_KAFKA_SASL_PASSWORD")
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                       sasl_plain_username=settings.kafka_sasl_username,
                       sasl_plain_password=password)
    return options
