"""Debian's coturn for the tests: a TURN server started and stopped by a test, with the
shared secret mor's credentials are made with (``use-auth-secret``).

    with coturn_on_loopback(folder) as server:   # relays on 127.0.0.1, for loopback peers
        server.address, server.ice (mor's IceSettings for it), server.log_tail()
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from mor.config import IceSettings, Settings
from tests.video.turn_client import TurnClient

SECRET: Final = "north-wind-3f9c1d"
TURNSERVER: Final = Path("/usr/bin/turnserver")


@dataclasses.dataclass(frozen=True)
class Coturn:
    address: tuple[str, int]
    ice: IceSettings
    log: Path

    def log_tail(self) -> str:
        return "coturn's log ends:\n" + "\n".join(self.log.read_text().splitlines()[-15:])


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1, as coturn listens on both."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


@contextlib.contextmanager
def running_turnserver(arguments: list[str], folder: Path, address: tuple[str, int],
                       ice: IceSettings) -> Iterator[Coturn]:
    """coturn's turnserver with these arguments, answering STUN at address, stopped
    at the end."""
    if not TURNSERVER.is_file():
        pytest.fail(f"The TURN tests need coturn's {TURNSERVER}; run scripts/install --test, "
                    f"which installs Debian's coturn package.")
    log = folder / "turnserver.log"
    # --userdb, --pidfile: the test's own files, not the system's /var/lib/turn/turndb
    # and /var/run/turnserver.pid.
    own_files = [f"--userdb={folder / 'turndb'}", f"--pidfile={folder / 'turnserver.pid'}"]
    with log.open("wb") as output:
        process = subprocess.Popen([str(TURNSERVER), *arguments, *own_files],
                                   stdout=output, stderr=subprocess.STDOUT)
    server = Coturn(address, ice, log)
    try:
        _wait_until_answering(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_answering(server: Coturn, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"turnserver exited with {process.returncode}. {server.log_tail()}")
        client = TurnClient(server.address, timeout=0.2)
        try:
            if client.binding().success:
                return
        except OSError:  # not listening yet: a timeout, or ICMP port unreachable
            time.sleep(0.1)
        finally:
            client.close()
    pytest.fail(f"turnserver did not answer STUN within 10 s. {server.log_tail()}")


def write_secret(folder: Path) -> Path:
    path = folder / "turn-secret"
    path.write_text(SECRET + "\n")
    return path


@contextlib.contextmanager
def coturn_on_loopback(folder: Path) -> Iterator[Coturn]:
    """coturn listening and relaying on 127.0.0.1 for peers on 127.0.0.1, UDP only."""
    secret = write_secret(folder)
    port = free_port()
    ice = Settings.from_env({"MOR_ICE_URLS": f"turn:127.0.0.1:{port}?transport=udp",
                             "MOR_TURN_SECRET_FILE": str(secret)}).ice
    with running_turnserver([
        # -n: not /etc/turnserver.conf, which holds this machine's own settings.
        "-n", f"--listening-port={port}", "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1", "--use-auth-secret",
        f"--static-auth-secret={SECRET}", "--realm=mor.test",
        "--no-tls", "--no-dtls", "--allow-loopback-peers", "--no-cli", "--log-file=stdout",
    ], folder, ("127.0.0.1", port), ice) as server:
        yield server
