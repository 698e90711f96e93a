"""Ingest's relay publishes with an idempotent producer when the broker grants one; on tansu it
downgrades once, says so, and at-least-once delivery still reaches the consumers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, UnknownError
from structlog.testing import capture_logs

from lifeline_bus import OutMessage, create_bus
from lifeline_bus import kafka_producer as kp
from lifeline_testing.topics import read_topic

pytestmark = pytest.mark.kafka


@pytest.fixture(autouse=True)
def _fresh_downgrades() -> Iterator[None]:
    """Each test sees a process that has not met any broker yet."""
    kp._DOWNGRADED.clear()
    yield
    kp._DOWNGRADED.clear()


async def test_tansu_refuses_idempotence_once_and_records_still_flow(kafka_url: str) -> None:
    """Two buses on tansu: one warning, no idempotent producer, every record published arrives."""
    with capture_logs() as logs:
        buses = [create_bus(kafka_url, consumer=f"ingest-{i}", session_timeout_ms=3000) for i in range(2)]
        for bus in buses:
            await bus.start()
    try:
        assert [getattr(bus, "idempotent", None) for bus in buses] == [False, False]
        refusals = [e for e in logs if e["event"] == "kafka.producer.idempotence_refused"]
        assert len(refusals) == 1, refusals
        assert "at-least-once" in refusals[0]["delivery"]
        await buses[0].publish("idem.t", [OutMessage(key="s1", value=b"a"), OutMessage(key="s1", value=b"b")])
        await buses[1].publish("idem.t", [OutMessage(key="s1", value=b"c")])
        values = [r.value for r in await read_topic(kafka_url, "idem.t")]
        assert values == [b"a", b"b", b"c"]
    finally:
        for bus in buses:
            await bus.stop()


class _FakeProducer:
    """Grants or refuses idempotence as told; records what it was built with."""

    refuse = False
    built: list[bool] = []  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        self.idempotent = bool(kwargs["enable_idempotence"])
        _FakeProducer.built.append(self.idempotent)

    async def start(self) -> None:
        if self.idempotent and self.refuse:
            raise UnknownError()

    async def stop(self) -> None:
        return None


async def test_a_broker_that_grants_idempotence_gets_an_idempotent_producer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Apache Kafka answers InitProducerId: the producer stays idempotent and start-up says so."""
    _FakeProducer.built, _FakeProducer.refuse = [], False
    monkeypatch.setattr(kp, "AIOKafkaProducer", _FakeProducer)
    with capture_logs() as logs:
        _, idempotent = await kp.start_producer("kafka-0:9092", "ingest")
    assert idempotent and _FakeProducer.built == [True]
    assert any(e["event"] == "kafka.producer.started" and e["idempotent"] for e in logs)


async def test_after_a_refusal_the_broker_is_not_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused broker is remembered: later starts build the plain producer directly, silently."""
    _FakeProducer.built, _FakeProducer.refuse = [], True
    monkeypatch.setattr(kp, "AIOKafkaProducer", _FakeProducer)
    with capture_logs() as logs:
        for _ in range(3):
            assert (await kp.start_producer("old-kafka:9092", "ingest"))[1] is False
    assert _FakeProducer.built == [True, False, False, False]
    assert len([e for e in logs if e["event"] == "kafka.producer.idempotence_refused"]) == 1


async def test_an_unreachable_broker_is_not_a_downgrade() -> None:
    """Connection errors are not refusals: they propagate and nothing is remembered."""
    with pytest.raises(KafkaConnectionError):
        await kp.start_producer("127.0.0.1:1", "ingest")
    assert not kp._DOWNGRADED


async def test_the_refusal_is_not_also_logged_as_an_error(
        kafka_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """aiokafka's own ERROR line for the refused InitProducerId is filtered: the warning is the one record."""
    bootstrap = kafka_url.split("://", 1)[1]
    with caplog.at_level(logging.DEBUG, logger="aiokafka"):
        producer, idempotent = await kp.start_producer(bootstrap, "ingest")
    await producer.stop()
    assert not idempotent
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "aiokafka logged an error"
