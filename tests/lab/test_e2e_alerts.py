"""End to end: a broken nginx in the lab makes kacheck escalate, and the sink hears why.

n1 tracks ``kacheck nginx`` with ``on_failure: stop-keepalived`` and alerts a webhook on the
lab's gateway (lab/sink.py), as kanotify does. Breaking n1's nginx (invalid configuration, master
stopped) must end with an ``escalate`` alert whose text names the reason and the VIP.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from lab import Lab
from lab.demo import BACKUP_PRIORITY, MASTER_PRIORITY, configure_node
from lab.demo.nodes import SINK_PORT, Alerting
from tests.conftest import kacheck_path

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("ip", "keepalived", "nginx")),
        reason="needs root, iproute2, keepalived and nginx",
    ),
]


def bodies(path: Path) -> list[dict[str, Any]]:
    """The JSON bodies the sink received, in arrival order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class TestEscalationAlert:
    """kacheck tells someone when it stops keepalived."""

    def test_broken_nginx_escalation_reaches_the_sink(self, tmp_path: Path) -> None:
        """The sink receives n1's escalation naming the failed config test and the VIP."""
        kacheck = kacheck_path()
        alerting = Alerting(str(Path(kacheck).with_name("kanotify")))
        with Lab(nodes=2, workdir=tmp_path, gateway=True) as lab:
            n1, n2 = lab.nodes
            gateway = lab.gateway
            assert gateway is not None
            received = tmp_path / "alerts.jsonl"
            gateway.popen(
                [sys.executable, "-m", "lab.sink", gateway.address, str(SINK_PORT), str(received)]
            )
            configure_node(
                n1, MASTER_PRIORITY, kacheck, "stop-keepalived", vip=lab.vip, alerting=alerting
            )
            configure_node(n2, BACKUP_PRIORITY, kacheck, "fail", vip=lab.vip, alerting=alerting)
            for node in (n1, n2):
                node.start_nginx()
                node.start_keepalived()
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=20, what="VIP on n1")

            n1.break_nginx()

            def escalations() -> list[dict[str, Any]]:
                return [
                    body
                    for body in bodies(received)
                    if body.get("node") == "n1" and body.get("event") == "escalate"
                ]

            lab.wait_until(
                lambda: bool(escalations()), timeout=30, what="n1's escalation at the sink"
            )
            # The alert is queued before the signal, so it may arrive before keepalived is gone.
            lab.wait_until(
                lambda: not n1.keepalived_running(), timeout=15, what="n1's keepalived stopped"
            )
            (alert,) = escalations()
            assert alert["title"] == "[n1] nginx: escalated: keepalived stopped"
            assert alert["check"] == "nginx" and alert["kind"] == "CHECK"
            assert alert["vips"] == [f"{lab.vip}/24"]
            # The text names the reason (the failed config test) and the address.
            assert "config test" in alert["text"] and "failed" in alert["text"]
            assert f"addresses: {lab.vip}/24" in alert["text"]
            # The state changes kanotify reported carry the instance's address too.
            masters = [body for body in bodies(received) if body.get("state") == "MASTER"]
            assert masters and all(body["vips"] == [f"{lab.vip}/24"] for body in masters)
