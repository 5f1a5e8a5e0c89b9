"""Fixtures of the shared-budget tests: real redis-servers, a real Redis Cluster, a Redis
client, unique prefixes.

``redis_cluster`` is a 3-node cluster shared by the session, ``own_cluster`` one of a
test's own (``_cluster.Cluster``: its ``nodes``, ``client()`` for a new
``redis.asyncio.RedisCluster``, ``owner(key)``; its docstring shows how to use them).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from ._cluster import Cluster
from ._server import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the tests that only read and write keys of their own."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A 3-node Redis Cluster for the tests that only read and write keys of their own."""
    directory = tmp_path_factory.mktemp("redis-cluster")
    cluster = Cluster(directory)
    cluster.start()
    yield cluster
    cluster.stop()
    shutil.rmtree(directory, ignore_errors=True)  # the nodes' cluster configuration files


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A 3-node Redis Cluster of this test's own, whose nodes it may kill or restart."""
    cluster = Cluster(tmp_path)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may kill or restart."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """An asyncio client of ``redis_server``, closed afterwards."""
    client = aioredis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses, so that tests on one server never meet."""
    return f"test-{uuid.uuid4().hex[:12]}"
