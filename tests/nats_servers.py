"""Real ``nats-server`` processes with JetStream for the sites tests, each on a loopback port
and a store folder of its own, started and killed as a test needs (kill -9 included)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

#: CI sets THREAD_TEST_NATS=1, so a missing nats-server fails the run instead of skipping.
NATS_VARIABLE = "THREAD_TEST_NATS"


def binary_or_skip() -> str:
    """The nats-server program; skips when there is none, fails when CI requires it."""
    found = shutil.which("nats-server")
    if found is None:
        if os.environ.get(NATS_VARIABLE):
            pytest.fail(f"{NATS_VARIABLE} is set but nats-server is not on the PATH")
        pytest.skip(f"nats-server is not installed; set {NATS_VARIABLE}=1 to require it")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class NatsServer:
    """One JetStream server; ``start``, ``kill`` (SIGKILL) and ``start`` again on the same
    port and store."""

    def __init__(self, folder: Path, cluster: list[str] | None = None) -> None:
        self.binary = binary_or_skip()
        self.port = _free_port()
        self.store = folder / f"nats-{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.cluster_port = _free_port() if cluster is not None else None
        self._cluster = cluster  # the other members' route URLs, filled in by cluster_of

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        """Start it and wait until it accepts connections."""
        arguments = [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd",
                     str(self.store)]
        if self._cluster is not None:
            arguments += ["--server_name", f"n{self.port}", "--cluster_name", "thread",
                          "--cluster", f"nats://127.0.0.1:{self.cluster_port}",
                          "--routes", ",".join(self._cluster)]
        self.process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server did not listen on port {self.port} within 10 s")

    def kill(self) -> None:
        """kill -9, as a power cut would."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        """Stop it if it runs."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None


def cluster_of(folder: Path, size: int = 3) -> list[NatsServer]:
    """``size`` JetStream servers routed to one another as one cluster (not started)."""
    servers = [NatsServer(folder, cluster=[]) for _ in range(size)]
    for server in servers:
        server._cluster = [f"nats://127.0.0.1:{other.cluster_port}" for other in servers
                           if other is not server]
    return servers
