"""A network of its own for a test: a Linux network namespace with only loopback, where
mor and the browsers run and whose link the test can slow down or cut (``tc``) without
touching the machine's own network.

    with NetworkNamespace() as network:
        network.command("python", "-m", "uvicorn", ...)   # a command line run inside it
        network.chromium(folder)                          # a Chromium that starts inside
        network.limit_to(300)                             # kbit/s on loopback, like a weak link
        network.cut()                                     # nothing gets through
        network.restore()

It needs the right to make namespaces and shape their links (root, as the tests run
here and in CI); without it, NamespaceError says so. bench/audio_bandwidth.py uses it too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Final

NEEDS: Final = ("unshare", "nsenter", "ip", "tc")
# Chromium leaves loopback addresses out of WebRTC unless told; in a namespace with only
# loopback, a call has no other address to use.
LOOPBACK_CALLS: Final = "--allow-loopback-in-peer-connection"


class NamespaceError(RuntimeError):
    """The namespace could not be made, or a command in it failed."""


class NetworkNamespace:
    def __init__(self) -> None:
        self._holder: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> NetworkNamespace:
        missing = [tool for tool in NEEDS if shutil.which(tool) is None]
        if missing:
            raise NamespaceError(
                f"A network of its own needs {', '.join(missing)} (util-linux and iproute2); "
                f"run scripts/install --test, which installs them.")
        if os.geteuid() != 0:
            raise NamespaceError("A network of its own is a network namespace with its link "
                                 "shaped by tc, which needs root (as the tests run in CI).")
        # The namespace lives as long as this sleeping process.
        self._holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"])
        own = os.stat("/proc/self/ns/net").st_ino
        deadline = time.monotonic() + 5
        while os.stat(f"/proc/{self._holder.pid}/ns/net").st_ino == own:
            if time.monotonic() > deadline or self._holder.poll() is not None:
                self.__exit__(None, None, None)
                raise NamespaceError("unshare --net did not make a network namespace")
            time.sleep(0.01)
        self.run("ip", "link", "set", "lo", "up")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._holder is not None:
            self._holder.kill()
            self._holder.wait()
            self._holder = None

    @property
    def pid(self) -> int:
        """A process in the namespace (its /proc/<pid>/ns/net names it)."""
        if self._holder is None:
            raise RuntimeError("the namespace is used outside its with block")
        return self._holder.pid

    def command(self, *arguments: str) -> list[str]:
        """The command line that runs ``arguments`` inside the namespace."""
        if self._holder is None:
            raise RuntimeError("the namespace is used outside its with block")
        return ["nsenter", f"--target={self._holder.pid}", "--net", "--", *arguments]

    def run(self, *arguments: str) -> None:
        done = subprocess.run(self.command(*arguments), capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise NamespaceError(f"{' '.join(arguments)} failed in the test's network namespace: "
                        f"{done.stderr.strip()}")

    def chromium(self, folder: Path, executable: Path = Path("/usr/bin/chromium")) -> Path:
        """A launcher Playwright can start: it runs Chromium inside the namespace, and
        Playwright still drives it through the pipes it inherits."""
        launcher = folder / f"chromium-in-namespace-{self.pid}"
        launcher.write_text("#!/bin/sh\nexec " + " ".join(self.command(str(executable)))
                            + ' "$@"\n')
        launcher.chmod(0o755)
        return launcher

    def limit_to(self, kbit_per_second: int) -> None:
        """Loopback carries at most this, queueing up to 100 ms and dropping the rest,
        the way a weak mobile link does; everything in the namespace shares it."""
        self.run("tc", "qdisc", "replace", "dev", "lo", "root", "tbf",
                 "rate", f"{kbit_per_second}kbit", "burst", "16kb", "latency", "100ms")

    def cut(self) -> None:
        """Every packet dropped, as when a phone loses its signal (a token bucket of a
        byte at 8 bit/s: no packet ever fits)."""
        self.run("tc", "qdisc", "replace", "dev", "lo", "root", "tbf",
                 "rate", "8bit", "burst", "100", "limit", "1")

    def restore(self) -> None:
        """Loopback as it was: no limit."""
        self.run("tc", "qdisc", "replace", "dev", "lo", "root", "pfifo_fast")


class PhoneLink:
    """A phone on a mobile link to the city: two namespaces joined by a virtual cable,
    the city's (mor and the clinician's browser, at CITY_ADDRESS) and the phone's (the
    patient's browser, at PHONE_ADDRESS). The phone's link is limited each way on its
    own, as a mobile link is; the city's side is otherwise unlimited.

        with PhoneLink() as link:
            link.city, link.phone             # NetworkNamespaces
            link.limit_to(up=64, down=64)     # kbit/s, the phone's upload and download
            link.restore()
    """

    CITY_ADDRESS: Final = "10.77.0.1"
    PHONE_ADDRESS: Final = "10.77.0.2"

    def __init__(self) -> None:
        self.city = NetworkNamespace()
        self.phone = NetworkNamespace()

    def __enter__(self) -> PhoneLink:
        self.city.__enter__()
        try:
            self.phone.__enter__()
            self.phone.run("ip", "link", "add", "phone0", "type", "veth", "peer", "name",
                           "city0", "netns", f"/proc/{self.city.pid}/ns/net")
            for namespace, device, address in ((self.phone, "phone0", self.PHONE_ADDRESS),
                                               (self.city, "city0", self.CITY_ADDRESS)):
                namespace.run("ip", "addr", "add", f"{address}/24", "dev", device)
                namespace.run("ip", "link", "set", device, "up")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.phone.__exit__(kind, error, trace)
        self.city.__exit__(kind, error, trace)

    def limit_to(self, *, up: int, down: int) -> None:
        """The phone sends at most ``up`` and receives at most ``down`` kbit/s, each way
        queueing up to 100 ms and dropping the rest."""
        for namespace, device, rate in ((self.phone, "phone0", up),
                                        (self.city, "city0", down)):
            namespace.run("tc", "qdisc", "replace", "dev", device, "root", "tbf",
                          "rate", f"{rate}kbit", "burst", "16kb", "latency", "100ms")

    def restore(self) -> None:
        for namespace, device in ((self.phone, "phone0"), (self.city, "city0")):
            namespace.run("tc", "qdisc", "replace", "dev", device, "root", "pfifo_fast")
