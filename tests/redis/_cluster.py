"""A real 3-node Redis Cluster on free loopback ports, each node stopped by its PID.

Three redis-server processes in cluster mode (persistence off, as ``_server``'s), joined by
``redis-cli --cluster create`` without replicas: each node is a primary serving a third of
the 16384 slots. Starting it takes about 2 s (a new primary serves no earlier); the tests
share one through the session-scoped ``redis_cluster`` fixture of
``conftest.py``::

    async def test_something(redis_cluster: Cluster, prefix: str) -> None:
        async with contextlib.aclosing(redis_cluster.client()) as cluster:
            budget = RedisBudget(cluster, SlidingWindow(8, 0.3), prefix=prefix)
            ...
        host, port = redis_cluster.owner(budget.keys(api_key).log)

- ``nodes``: the ``(host, port)`` of the three nodes.
- ``client(startup=None, **options)``: a new ``redis.asyncio.RedisCluster`` that starts
  from the nodes ``startup`` (all three by default); the caller closes it (``aclose``).
- ``node(address)``: a plain ``redis.asyncio.Redis`` of one node, for what a cluster client
  does not route to one node (``KEYS``, ``SCRIPT FLUSH`` there); the caller closes it.
- ``owner(key)``: the node that serves ``key``'s slot now.
- ``move_slot(slot, to)``: reshards one slot, its keys included, to another node; a client
  that knew the old owner is answered ``MOVED`` there.
- ``kill(address)``, ``restart(address)``: one node dies (SIGKILL), and comes back without
  data (``restart`` returns once the cluster is ok again, about 2 s later).

The tests that share the cluster keep to keys of their own (the ``prefix`` fixture), never
stop its nodes, and ask ``owner()`` rather than assume the layout: a test may have moved a
slot (and moved it back). A test that kills or restarts nodes takes ``own_cluster``, a
cluster of its own (its start costs the test 2 s).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode
from redis.crc import key_slot

from ._server import RedisServer, free_ports

HOST = "127.0.0.1"
SIZE = 3
"""Nodes of the cluster, all primaries."""
READY_TIMEOUT = 10.0
"""Seconds the nodes may take, once joined, until each says ``cluster_state:ok``."""
CREATE_TIMEOUT = 30.0
"""Seconds ``redis-cli --cluster create`` may take."""
NODE_TIMEOUT_MS = 2000
"""The nodes' ``cluster-node-timeout`` (Redis's default: 15 s). Each node pings every other
at least every half of it, so the nodes agree by the time redis-cli first looks, 1 s after
it joined them (with 15 s it often waited 1 or 2 s more). Long enough that a busy machine's
stall never makes a node look failed. The start takes 2 s all the same: a new primary
serves no earlier (Redis's ``CLUSTER_WRITABLE_DELAY``)."""

Address = tuple[str, int]


class Cluster:
    """Three redis-server nodes in ``directory``, joined into one cluster by ``start()``."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        # The cluster bus listens on a port of its own; by default the client port plus
        # 10000, which may be taken, or past 65535 for a high free port: pick it too.
        ports = free_ports(2 * SIZE)
        self._servers = [
            RedisServer(directory, port=port, options=_node_options(directory, port, bus))
            for port, bus in zip(ports[:SIZE], ports[SIZE:], strict=True)
        ]
        self.nodes: list[Address] = [(HOST, server.port) for server in self._servers]

    def start(self) -> None:
        """Start the nodes, join them, and return once every node says the cluster is ok."""
        try:
            for server in self._servers:
                server.start()
            self._create()
            self.wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every node by its PID (SIGTERM, then SIGKILL if it lingers)."""
        for server in self._servers:
            server.stop()

    def kill(self, address: Address) -> None:
        """Kill one node by its PID (SIGKILL): it keeps its cluster configuration only."""
        self._server(address).kill()

    def restart(self, address: Address) -> None:
        """Start a stopped or killed node again, with no data; return once the cluster is ok.

        It rejoins with its configuration file: its slots are its own again.
        """
        server = self._server(address)
        server.stop()
        server.start()
        self.wait_until_ready()

    def wait_until_ready(self) -> None:
        """Return once every node serves every slot and knows every other node."""
        deadline = time.monotonic() + READY_TIMEOUT
        while not all(self._ready(address) for address in self.nodes):
            if time.monotonic() > deadline:
                pytest.fail(f"the cluster on {self.nodes} did not become ok")
            time.sleep(0.01)

    def client(
        self, startup: Sequence[Address] | None = None, **options: Any
    ) -> aioredis.RedisCluster:
        """A new ``redis.asyncio.RedisCluster`` starting from ``startup`` (all nodes)."""
        nodes = [ClusterNode(host, port) for host, port in startup or self.nodes]
        return aioredis.RedisCluster(startup_nodes=nodes, **options)

    def node(self, address: Address) -> aioredis.Redis:
        """A plain client of one node."""
        host, port = address
        return aioredis.Redis(host=host, port=port)

    def owner(self, key: str) -> Address:
        """The node that serves ``key``'s slot, as the nodes say now."""
        return self.owner_of_slot(key_slot(key.encode()))

    def owner_of_slot(self, slot: int) -> Address:
        """The node that serves ``slot``, as the nodes say now."""
        with self._sync(self.nodes[0]) as conn:
            ranges = conn.execute_command("CLUSTER SLOTS")
        for start, end, primary, *_ in ranges:
            if start <= slot <= end:
                return (primary[0].decode(), int(primary[1]))
        pytest.fail(f"no node serves slot {slot}")

    def move_slot(self, slot: int, to: Address) -> None:
        """Reshard ``slot`` with its keys from its owner to the node at ``to``."""
        source = self.owner_of_slot(slot)
        with self._sync(source) as src, self._sync(to) as dst:
            src_id = src.execute_command("CLUSTER MYID").decode()
            dst_id = dst.execute_command("CLUSTER MYID").decode()
            dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
            src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
            while keys := src.execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
                src.execute_command("MIGRATE", to[0], to[1], "", 0, 5000, "KEYS", *keys)
            for address in self.nodes:  # every node learns the new owner at once
                with self._sync(address) as conn:
                    conn.execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)

    def _create(self) -> None:
        cli = shutil.which("redis-cli")
        if cli is None:
            pytest.fail("redis-cli is missing: bash .ci/services installs it (redis-tools)")
        addresses = [f"{host}:{port}" for host, port in self.nodes]
        command = [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0"]
        done = subprocess.run(  # noqa: S603 - Debian's redis-cli, fixed arguments
            [*command, "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=CREATE_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}")

    def _ready(self, address: Address) -> bool:
        """Whether the node serves every slot and knows every other node."""
        try:
            with self._sync(address) as conn:
                info = conn.execute_command("CLUSTER INFO")
        except redis.RedisError:  # not started yet, or killed
            return False
        return bool(
            info.get("cluster_state") == "ok"
            and int(info.get("cluster_known_nodes", 0)) == SIZE
            and int(info.get("cluster_slots_ok", 0)) == 16384
        )

    def _server(self, address: Address) -> RedisServer:
        (server,) = [s for s in self._servers if (HOST, s.port) == tuple(address)]
        return server

    def _sync(self, address: Address) -> redis.Redis:
        host, port = address
        return redis.Redis(host=host, port=port, socket_timeout=2.0)


def _node_options(directory: Path, port: int, bus: int) -> list[str]:
    return [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        str(directory / f"nodes-{port}.conf"),
        "--cluster-port",
        str(bus),
        "--cluster-node-timeout",
        str(NODE_TIMEOUT_MS),
    ]
