"""The real Prometheus Alertmanager (Debian ``prometheus-alertmanager``) on 127.0.0.1.

Clustering off, a null receiver, its own storage directory (docs/channels.md, alertmanager).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.fakes.smtp import free_port

BINARY = "prometheus-alertmanager"
CONFIG = "route:\n  receiver: sink\nreceivers:\n  - name: sink\n"


def installed() -> bool:
    """Whether the binary is on PATH."""
    return shutil.which(BINARY) is not None


class RealAlertmanager:
    """One private Alertmanager process.

    Args:
        workdir: Where its configuration, storage and log go.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_within: float = 30.0) -> RealAlertmanager:
        """Start it and wait until ``/-/ready`` answers 200.

        Raises:
            RuntimeError: It exited or did not become ready in time (its log is quoted).
        """
        config = self.workdir / "am.yml"
        config.write_text(CONFIG)
        log = (self.workdir / "alertmanager.log").open("wb")
        with log:
            self.process = subprocess.Popen(
                [
                    BINARY,
                    f"--config.file={config}",
                    f"--storage.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        tail = (self.workdir / "alertmanager.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"alertmanager did not become ready:\n{tail}")

    def stop(self) -> None:
        """Terminate the process by its PID (kill it if it does not exit in 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def alerts(self, **labels: str) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``, filtered to the alerts carrying ``labels``."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as response:
            found: list[dict[str, Any]] = json.load(response)
        return [
            alert
            for alert in found
            if all(alert["labels"].get(key) == value for key, value in labels.items())
        ]
