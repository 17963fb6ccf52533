"""The failover benchmark's harness (bench/failover.py) on one run of each fault.

Two labs, both VRRPv3 at ``advert_int 0.05``: the kacheck watcher (nginx faults, the keepalived
kill and the freeze) and kaprobe's BFD (the uplink cut). The assertions are the harness's own
facts (who serves afterwards, whether requests were lost, that the pair is back in steady state
and nothing is left stopped), never a duration.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.failover import (
    PERIOD,
    Pair,
    RunResult,
    outage_of,
    run_matrix,
    table,
)
from lab import procs
from lab.demo.nodes import RESTART_WAIT

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0
        or not all(shutil.which(tool) for tool in ("ip", "bridge", "keepalived", "nginx", "curl")),
        reason="needs root, iproute2, keepalived, nginx and curl",
    ),
]

ADVERT = "v3-50ms"


@pytest.fixture(scope="module")
def watch_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """kacheck --watch feeding a track_file on both nodes, in steady state."""
    with Pair(tmp_path_factory.mktemp("failover"), "watch", ADVERT) as pair:
        yield pair


def assert_steady(pair: Pair) -> None:
    """The run left the pair as it found it: VIP on n1 only, n1 serving, nothing stopped."""
    assert pair.lab.holders(pair.lab.vip) == [pair.n1]
    assert pair.client.streak(0.0, pair.n1.name)
    assert all(procs.proc_state(pid) != "T" for pid in pair.n1.netns_pids())


class TestFaults:
    """One run of each fault, as `make bench-failover` runs them."""

    def test_unrestartable_nginx_ends_with_the_backup_serving(self, watch_pair: Pair) -> None:
        """nginx dead for good on the master: requests fail, then the backup answers them."""
        result = watch_pair.run("nginx-dead")
        assert result.outage is not None and result.outage > 0
        assert result.lost > 0
        assert result.served_by == "n2"
        assert_steady(watch_pair)

    def test_restartable_nginx_loses_a_few_requests_and_no_failover(self, watch_pair: Pair) -> None:
        """nginx killed but restartable: the master serves again, the backup never answers."""
        result = watch_pair.run("nginx-restart")
        assert result.served_by == "n1"
        assert result.servers == {"n1"}
        assert result.outage is not None
        # kacheck waits at most its restart wait for nginx: no more requests than that fail.
        assert result.lost <= (RESTART_WAIT + 1) / PERIOD
        assert_steady(watch_pair)

    def test_killed_keepalived_hands_over_to_the_backup(self, watch_pair: Pair) -> None:
        """Every keepalived process of the master SIGKILLed: the backup ends up serving."""
        result = watch_pair.run("keepalived-kill")
        assert result.served_by == "n2"
        assert watch_pair.n1.keepalived_running()
        assert_steady(watch_pair)

    def test_frozen_master_is_replaced_then_resumed(self, watch_pair: Pair) -> None:
        """Every process of the master stopped: the backup serves; afterwards none stays stopped."""
        result = watch_pair.run("freeze")
        assert result.lost > 0
        assert result.served_by == "n2"
        assert watch_pair.frozen == []
        assert_steady(watch_pair)

    def test_uplink_cut_is_seen_by_bfd(self, tmp_path: Path) -> None:
        """The master's switch port stops forwarding: kaprobe notices, the backup serves."""
        results = run_matrix(tmp_path, ["uplink"], ["kaprobe"], [ADVERT], runs=1)
        (result,) = results[("uplink", "kaprobe", ADVERT)]
        assert result.lost > 0
        assert result.served_by == "n2"


class TestReport:
    """The figures and the table, from answers made up for the purpose."""

    def test_outage_spans_first_failure_to_first_answer_after_the_last(self) -> None:
        """Outage runs from the first failed launch to the answer after the last failure."""
        answers = [(1.0, "n1"), (1.02, None), (1.04, "n1"), (1.06, None), (1.08, "n2")]
        outage, lost = outage_of(answers)
        assert outage == pytest.approx(0.06)
        assert lost == 2

    def test_no_failure_is_no_outage(self) -> None:
        """A run without a failed request has no outage and loses nothing."""
        assert outage_of([(1.0, "n1"), (1.02, "n2")]) == (0.0, 0)

    def test_undetectable_cells_say_so(self) -> None:
        """A cell the setup cannot detect is in the table as such, not as a figure."""
        run = RunResult("freeze", "watch", ADVERT, 0.1, 5, 0.5, "n2")
        text = table(
            {("freeze", "watch", ADVERT): [run]}, ["freeze", "uplink"], ["watch"], [ADVERT]
        )
        assert "| uplink | watch | v3-50ms | 0 | not detected by this setup |" in text
        assert "| freeze | watch | v3-50ms | 1 | 100 | 100 | 5 / 5 | 0.50 |" in text
