"""The servers the suite and `make run` stand on: they start, answer, crash and come back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from redis.exceptions import ConnectionError as RedisConnectionError

from lifeline_servers import (
    RunningServer,
    ServerNotControllableError,
    ServerStartError,
    ensure_kafka_topics,
    start_postgres,
    start_tansu,
    start_valkey,
)
from lifeline_servers.probes import accepts_tcp
from lifeline_servers.running import Kind

Factory = Callable[[Kind], RunningServer]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead, only not yet reaped
        return stat.read().split(")")[-1].split()[0] != "Z"


async def _ping(url: str) -> bool:
    client = aioredis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


async def test_redis_answers_ping_on_a_flushed_db(redis_url: str) -> None:
    """The session Redis answers PING and the per-test db starts empty."""
    client = aioredis.from_url(redis_url)
    try:
        assert await client.ping()
        assert await client.dbsize() == 0
        await client.set("k", "v")
        assert await client.get("k") == b"v"
    finally:
        await client.aclose()


async def test_fresh_database_is_empty_and_reachable_by_asyncpg(fresh_database: str) -> None:
    """asyncpg connects to the per-test database over TCP and it has no tables."""
    assert fresh_database.startswith("postgresql://")
    conn = await asyncpg.connect(fresh_database)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert tables == 0
    finally:
        await conn.close()


@pytest.mark.kafka
async def test_kafka_topic_with_8_partitions_and_a_record_round_trip(kafka_url: str) -> None:
    """ensure_kafka_topics makes an 8-partition topic idempotently; a record goes through."""
    topic = f"servers.{uuid.uuid4().hex[:8]}"
    bootstrap = kafka_url.removeprefix("kafka://")
    assert await ensure_kafka_topics(kafka_url, [topic], partitions=8) == {topic: 8}
    assert await ensure_kafka_topics(kafka_url, [topic], partitions=8) == {topic: 8}

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b'{"hello": 1}', key=b"s-42")
    finally:
        await producer.stop()
    # tansu holds a group's first join for about half the session timeout: keep it short.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id="g",
        auto_offset_reset="earliest",
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert (record.key, record.value, record.partition) == (
        b"s-42",
        b'{"hello": 1}',
        sent.partition,
    )


@pytest.mark.kafka
async def test_tansu_auto_creates_a_touched_topic_with_4_partitions() -> None:
    """Pins a tansu quirk: merely describing an unknown topic creates it with 4 partitions,
    which is why topics must be created explicitly before any client touches them.
    Starts its own tansu, whatever broker the rest of the run uses."""
    tansu = await asyncio.to_thread(start_tansu)
    admin = AIOKafkaAdminClient(bootstrap_servers=tansu.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(["never.created"])
        assert len(described[0]["partitions"]) == 4
        assert "never.created" in await admin.list_topics()
    finally:
        await admin.close()
        await asyncio.to_thread(tansu.stop)


async def test_postgres_data_survives_kill_and_restart(disposable_server: Factory) -> None:
    """After SIGKILL the server refuses connections; restarted, same URL, data intact."""
    server = disposable_server("postgres")
    conn = await asyncpg.connect(server.url)
    await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before crash')")
    await conn.close()

    await server.akill()
    with pytest.raises((OSError, asyncpg.PostgresError)):
        await asyncpg.connect(server.url, timeout=2)
    await server.arestart()

    conn = await asyncpg.connect(server.url)
    try:
        assert await conn.fetchval("SELECT v FROM kept") == "before crash"
    finally:
        await conn.close()


async def test_redis_comes_back_on_the_same_url_after_kill(disposable_server: Factory) -> None:
    """A killed Redis is unreachable, then answers again at the same URL after restart."""
    server = disposable_server("redis")
    assert await _ping(server.url)
    await server.akill()
    with pytest.raises((OSError, RedisConnectionError)):
        await _ping(server.url)
    await server.arestart()
    assert await _ping(server.url)


@pytest.mark.kafka
async def test_kafka_comes_back_on_the_same_url_after_kill(disposable_server: Factory) -> None:
    """A killed broker is unreachable, then serves topics again at the same URL."""
    server = disposable_server("kafka")
    await server.akill()
    assert not server.is_running()
    await server.arestart()
    assert await ensure_kafka_topics(server.url, ["after.restart"], 8) == {"after.restart": 8}


def test_persistent_valkey_keeps_data_across_stop_and_kill(tmp_path: Path) -> None:
    """With persist=True, data written before a graceful stop or a SIGKILL is back after."""
    server = start_valkey(tmp_path / "valkey", persist=True)
    try:
        asyncio.run(_set(server.url, "a", "1"))
        server.restart()
        asyncio.run(_set(server.url, "b", "2"))
        server.kill()
        server.restart()
        assert asyncio.run(_get(server.url, "a", "b")) == [b"1", b"2"]
    finally:
        server.stop()


async def _set(url: str, key: str, value: str) -> None:
    client = aioredis.from_url(url)
    await client.set(key, value)
    await client.aclose()


async def _get(url: str, *keys: str) -> list[bytes | None]:
    client = aioredis.from_url(url)
    values = await client.mget(keys)
    await client.aclose()
    return values


def test_start_failure_names_the_reason_and_shows_the_log(scratch_path: Path) -> None:
    """A port already taken makes start_postgres raise with Postgres' own explanation."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerStartError) as failure:
            start_postgres(scratch_path / "pg", port=port, durable=False)
    message = str(failure.value)
    assert "exited with code" in message
    assert "could not bind" in message or "already in use" in message


def test_an_external_server_refuses_kill_and_restart_loudly() -> None:
    """Failure tests cannot pass by accident against a server they do not control."""
    server = RunningServer("redis", "redis://10.0.0.1:6379", "external")
    for action in (server.kill, server.restart):
        with pytest.raises(ServerNotControllableError, match="LIFELINE_TEST_"):
            action()
    server.stop()  # never touches a server we do not own


_CHILD = """
import sys
from pathlib import Path
from lifeline_servers import start_postgres, start_tansu, start_valkey
servers = [start_valkey(), start_tansu(), start_postgres(Path(sys.argv[1]), durable=False)]
print(" ".join(str(s.control.process.pid) for s in servers), flush=True)
sys.stdin.read()
"""


def test_servers_die_with_the_process_that_started_them(scratch_path: Path) -> None:
    """Even a SIGKILLed owner leaves no server behind: the watchdog takes them down."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(scratch_path / "pg")],
        env={**os.environ, "TMPDIR": str(scratch_path)},  # its scratch dirs die with ours
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    pids = [int(pid) for pid in child.stdout.readline().split()]
    assert len(pids) == 3 and all(_pid_alive(pid) for pid in pids)
    child.send_signal(signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 15
    while any(_pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if _pid_alive(pid)]


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_launcher_starts_supervises_and_stops_the_stack(scratch_path: Path, free_port: int) -> None:
    """`make run`: a declared service gets the stack's env and its stack.env line, is
    restarted after a crash, and SIGTERM leaves no service or server running."""
    home, output = scratch_path / "home", scratch_path / "launcher.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFELINE_")}
    env["LIFELINE_DUMMY_CRASH_ONCE"] = str(scratch_path / "crashed")
    argv = [sys.executable, "-m", "lifeline_launcher", "--home", str(home), "--stop-grace", "5",
            "--service", f"dummy=lifeline_testing.dummy_service:{free_port}"]  # fmt: skip
    with open(output, "w") as out:
        launcher = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_for(lambda: (home / "stack.env").exists(), "stack.env")
        values = dict(line.split("=", 1) for line in (home / "stack.env").read_text().split())
        assert values["LIFELINE_DUMMY_URL"] == f"http://127.0.0.1:{free_port}"
        _wait_for(lambda: "dummy restarted: ready" in output.read_text(), "the restart")
        seen = httpx.get(f"{values['LIFELINE_DUMMY_URL']}/env").json()
        assert seen["LIFELINE_DATABASE_URL"] == values["LIFELINE_DATABASE_URL"]
        assert seen["LIFELINE_REDIS_URL"] == values["LIFELINE_REDIS_URL"]
        assert seen["LIFELINE_BUS_URL"] == values["LIFELINE_BUS_URL"] == values["LIFELINE_REDIS_URL"]
        assert seen["LIFELINE_PORT"] == str(free_port)
        grant = json.loads(seen["LIFELINE_API_KEYS"])[values["LIFELINE_API_KEY"]]
        assert grant == {"tenant": "default", "scopes": ["ingest", "read", "admin", "operator"]}
        assert asyncio.run(_ping(values["LIFELINE_REDIS_URL"]))
        assert asyncio.run(_select_1(values["LIFELINE_DATABASE_URL"])) == 1
    finally:
        launcher.send_signal(signal.SIGTERM)
        code = launcher.wait(60)
    assert code == 0, output.read_text()
    for url in (values["LIFELINE_DUMMY_URL"], values["LIFELINE_REDIS_URL"],
                values["LIFELINE_DATABASE_URL"]):  # fmt: skip
        host, port = urlsplit(url).netloc.rsplit("@", 1)[-1].split(":")
        assert not accepts_tcp(host, int(port)), f"{url} still answers"
    assert not (home / "stack.env").exists()
    assert (home / "dev-api-key").read_text().strip() == values["LIFELINE_API_KEY"]


async def _select_1(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT 1"))
    finally:
        await conn.close()
