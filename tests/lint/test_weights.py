"""keepalived's priority arithmetic, as lint computes it for each failure combination."""

from __future__ import annotations

from pathlib import Path

import pytest

from kakit.lint import read
from kakit.lint.weights import FAULT, effective
from tests.lint.helpers import GLOBAL, write

SCRIPT = 'vrrp_script chk {\n    script "/bin/true"\n%s}\n'
FILE = 'track_file tf {\n    file "/run/tf"\n%s}\n'

# (what, global blocks, the instance's priority, its tracking lines, failing?, expected)
CASES = [
    (
        "negative weight subtracted on failure",
        SCRIPT % "    weight -30\n",
        150,
        "track_script {\n chk\n }\n",
        True,
        120,
    ),
    (
        "negative weight: nothing while OK",
        SCRIPT % "    weight -30\n",
        150,
        "track_script {\n chk\n }\n",
        False,
        150,
    ),
    (
        "positive weight added while OK",
        SCRIPT % "    weight 20\n",
        100,
        "track_script {\n chk\n }\n",
        False,
        120,
    ),
    (
        "positive weight lost on failure",
        SCRIPT % "    weight 20\n",
        100,
        "track_script {\n chk\n }\n",
        True,
        100,
    ),
    (
        "weight 0 (the default) is FAULT",
        SCRIPT % "",
        100,
        "track_script {\n chk\n }\n",
        True,
        FAULT,
    ),
    (
        "the instance's weight overrides the script's",
        SCRIPT % "    weight -30\n",
        150,
        "track_script {\n chk weight -60\n }\n",
        True,
        90,
    ),
    (
        "reverse flips a negative weight",
        SCRIPT % "    weight -30 reverse\n",
        150,
        "track_script {\n chk\n }\n",
        True,
        180,
    ),
    ("clamped to 1", SCRIPT % "    weight -200\n", 100, "track_script {\n chk\n }\n", True, 1),
    ("clamped to 254", SCRIPT % "    weight 200\n", 100, "track_script {\n chk\n }\n", False, 254),
    (
        "255 never changes",
        SCRIPT % "    weight -30\n",
        255,
        "track_script {\n chk\n }\n",
        True,
        255,
    ),
    (
        "track_file: kaprobe's -254 times the default weight 1 is FAULT",
        FILE % "",
        100,
        "track_file {\n tf\n }\n",
        True,
        FAULT,
    ),
    (
        "track_file: kacheck's 1 times a negative weight",
        FILE % "    weight -40\n",
        100,
        "track_file {\n tf\n }\n",
        True,
        60,
    ),
    (
        "track_file: weight 0 is FAULT on a non-zero value",
        FILE % "    weight 0\n",
        100,
        "track_file {\n tf\n }\n",
        True,
        FAULT,
    ),
    (
        "track_file: a product at or below -254 is FAULT",
        FILE % "    weight -254\n",
        100,
        "track_file {\n tf\n }\n",
        True,
        FAULT,
    ),
    (
        "track_interface without weight is FAULT",
        "",
        100,
        "track_interface {\n eth1\n }\n",
        True,
        FAULT,
    ),
    ("track_interface with weight", "", 100, "track_interface {\n eth1 weight -10\n }\n", True, 90),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_effective_priority(case: tuple[str, str, int, str, bool, int], tmp_path: Path) -> None:
    """The effective priority with the one tracker failing (or not) is keepalived's."""
    _what, blocks, priority, tracking, failing, expected = case
    text = (
        GLOBAL + blocks + "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n"
        f" priority {priority}\n virtual_ipaddress {{\n 10.213.7.1/24\n }}\n{tracking}}}\n"
    )
    (instance,) = read(str(write(tmp_path, text))).instances
    (tracker,) = instance.trackers
    assert effective(instance, {f"{tracker.kind}:{tracker.name}"} if failing else set()) == expected


def test_sync_group_members_track_with_weight_zero(tmp_path: Path) -> None:
    """In a vrrp_sync_group a weighted failure is FAULT, unless sync_group_tracking_weight."""
    body = (
        GLOBAL
        + SCRIPT % "    weight -30\n"
        + "vrrp_sync_group G {\n group {\n VI_1\n }\n%s}\n"
        + "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 150\n"
        " virtual_ipaddress {\n 10.213.7.1/24\n }\n track_script {\n chk\n }\n}\n"
    )
    (plain,) = read(str(write(tmp_path, body % "", "a.conf"))).instances
    (weighted,) = read(
        str(write(tmp_path, body % " sync_group_tracking_weight\n", "b.conf"))
    ).instances
    assert effective(plain, {"script:chk"}) == FAULT
    assert effective(weighted, {"script:chk"}) == 120
