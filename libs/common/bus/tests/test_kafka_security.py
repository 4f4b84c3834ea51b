"""Kafka security settings: the options every client gets, and a real SASL/PLAIN listener (the test
broker's second listener) that takes the right password and refuses a wrong one."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl

import pytest
from pydantic import SecretStr

from libs.common.bus import BusUnavailable, make_bus
from libs.common.bus.kafka_security import KafkaSecurityError, client_options
from libs.common.config import Misconfigured, Settings
from libs.common.events.sms_inbound import InboundSms
from libs.common.startup import BUS, outage
from libs.common.testing.app import eventually


def with_(**values) -> Settings:
    return Settings(bus="kafka", database_url="postgresql+asyncpg://parley@127.0.0.1/parley", **values)


def test_plaintext_needs_nothing_more():
    assert client_options(with_()) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_carries_mechanism_credentials_and_a_verifying_tls_context():
    options = client_options(with_(kafka_security_protocol="SASL_SSL",
                                   kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="svc",
                                   kafka_sasl_password=SecretStr("pw")))
    assert {k: v for k, v in options.items() if k != "ssl_context"} == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc", "sasl_plain_password": "pw"}
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize("values, names", [
    ({"kafka_security_protocol": "SASL_SSL"}, "PARLEY_KAFKA_SASL_USERNAME"),
    ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "svc",
      "kafka_sasl_password": SecretStr("")}, "PARLEY_KAFKA_SASL_PASSWORD"),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "/tls/client.pem"},
     "PARLEY_KAFKA_SSL_KEYFILE"),
], ids=["sasl without credentials", "empty password (a blank env value)", "certificate without key"])
def test_a_half_configured_deployment_fails_naming_the_setting(values, names):
    with pytest.raises(KafkaSecurityError, match=names):
        client_options(with_(**values))


@pytest.fixture
def sasl_listener(profile):
    bootstrap = os.environ.get("PARLEY_TEST_KAFKA_SASL_BOOTSTRAP")
    if profile != "production":
        pytest.skip("needs the test Kafka broker's SASL listener (production profile)")
    assert bootstrap, "scripts/kafka.sh writes PARLEY_TEST_KAFKA_SASL_BOOTSTRAP: run through make test"
    return with_(kafka_bootstrap=bootstrap, kafka_security_protocol="SASL_PLAINTEXT",
                 kafka_sasl_username=os.environ["PARLEY_TEST_KAFKA_SASL_USERNAME"],
                 kafka_sasl_password=SecretStr(os.environ["PARLEY_TEST_KAFKA_SASL_PASSWORD"]),
                 topic_prefix=f"sasl{os.getpid()}.")


async def test_the_bus_publishes_and_consumes_through_an_authenticated_listener(sasl_listener):
    bus = make_bus(sasl_listener)
    await bus.start()
    try:
        got: list[str] = []

        async def handler(event):
            got.append(event.body)

        await bus.consume(InboundSms.TOPIC, "sasl", handler)
        await bus.emit(InboundSms(tenant_id="t1", phone="+15555550131", to="+15555550000",
                                  body="over sasl", carrier="simulator", carrier_message_id="s1"))
        await eventually(lambda: _async(got == ["over sasl"]))
        assert await bus.ready()
    finally:
        await bus.stop()


async def test_a_wrong_password_is_a_misconfiguration_not_an_outage(sasl_listener):
    """aiokafka reports a refused login as "unable to bootstrap", as it does an unreachable
    broker; the service must not wait for it forever but exit naming the settings."""
    wrong = sasl_listener.model_copy(update={"kafka_sasl_password": SecretStr("not-the-password")})
    bus = make_bus(wrong)
    with pytest.raises(Misconfigured, match=r"refused the credentials.*PARLEY_KAFKA_SASL_PASSWORD") as err:
        await asyncio.wait_for(bus.start(), 30)
    assert outage(err.value, BUS) is None
    await bus.stop()


async def test_an_unreachable_sasl_listener_is_an_outage(sasl_listener):
    closed = free_port()
    bus = make_bus(sasl_listener.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{closed}"}))
    with pytest.raises(BusUnavailable, match=r"SASL_PLAINTEXT.*PARLEY_KAFKA_SECURITY_PROTOCOL") as err:
        await asyncio.wait_for(bus.start(), 30)
    assert outage(err.value, BUS) == BUS
    await bus.stop()


async def test_an_untrusted_broker_certificate_is_a_misconfiguration(monkeypatch):
    """The bootstrap fails as if the broker were away; asked directly, it is the certificate."""
    from libs.common.bus import kafka

    async def untrusted(*args, **kwargs):
        raise ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate")

    monkeypatch.setattr(kafka, "create_conn", untrusted)
    bus = make_bus(with_(kafka_bootstrap=f"127.0.0.1:{free_port()}", kafka_security_protocol="SSL"))
    with pytest.raises(Misconfigured, match=r"does not trust.*PARLEY_KAFKA_SSL_CAFILE"):
        await asyncio.wait_for(bus.start(), 30)
    await bus.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _async(value):
    return value
