"""One log format for every logger, and aiokafka's connection errors as state changes."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from prometheus_client import REGISTRY

from libs.common import observability
from libs.common.observability import KafkaLink, configure_logging


@pytest.fixture
def json_logs(capsys):
    configure_logging("json", "INFO")
    capsys.readouterr()
    yield lambda: [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    configure_logging("console", "INFO")


def test_library_loggers_render_as_json_like_our_own(json_logs):
    structlog.get_logger("parley.test").info("ours", tenant="acme")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade %s -> %s", "0001", "0002")
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/readyz",
                                             "1.1", 503)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    ours, alembic, access, crash = json_logs()
    assert (ours["event"], ours["tenant"], ours["logger"]) == ("ours", "acme", "parley.test")
    assert alembic["event"] == "Running upgrade 0001 -> 0002" and alembic["level"] == "info"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/readyz", 503)
    assert crash["level"] == "error" and "ValueError: boom" in crash["exception"]


def errors(kind: str) -> float:
    return REGISTRY.get_sample_value("parley_kafka_client_errors_total", {"kind": kind}) or 0.0


def test_a_storm_of_aiokafka_connection_errors_is_one_line_each_way_and_a_count(json_logs, monkeypatch):
    link = KafkaLink()
    link.QUIET_S = 0.0
    monkeypatch.setattr(observability, "KAFKA_LINK", link)
    before = errors("metadata"), errors("fetch")
    client = logging.getLogger("aiokafka")
    for _ in range(500):
        client.error("Unable to update metadata from [1]")
        logging.getLogger("aiokafka.consumer.fetcher").error(
            "Failed fetch messages from 1: NodeNotReadyError: Attempt to send a request to node")
    logging.getLogger("aiokafka.consumer.group_coordinator").info("Joined group 'g' (generation 3)")
    assert not link.up
    link.restored()
    lines = json_logs()
    assert [line["event"] for line in lines] == ["kafka_connection_lost", "Joined group 'g' (generation 3)",
                                                 "kafka_connection_restored"]
    assert "Unable to update metadata" in lines[0]["detail"] and lines[2]["errors"] == 1000
    assert (errors("metadata") - before[0], errors("fetch") - before[1]) == (500, 500)


def test_the_link_stays_down_until_the_clients_have_been_quiet(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(observability.time, "monotonic", lambda: now[0])
    link = KafkaLink()
    link.lost("connect", "Unable connect to node")
    now[0] += 1.0
    link.restored()  # a request succeeded, but a client failed a second ago
    assert not link.up
    now[0] += KafkaLink.QUIET_S
    link.restored()
    assert link.up

