"""Each lab node's kakit.yaml and the keepalived.conf that runs kacheck and kanotify on it.

Also used by the end-to-end tests in ``tests/lab/test_e2e_kacheck.py``.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from lab.bfd import track_file_block
from lab.keepalived import vrrp_instance_conf
from lab.lab import GATEWAY_HOST, SUBNET_PREFIX, VIP_HOST
from lab.node import Node

CHECK = "nginx"
"""The kacheck check every node tracks (the built-in nginx preset, overlaid per node)."""

VRRP_SCRIPT = "chk_nginx"
TRACK_FILE = "kaprobe_uplink"
"""The keepalived ``track_file`` name of the master's kaprobe session (the BFD act)."""
VIP = f"{SUBNET_PREFIX}.{VIP_HOST}"
MASTER_PRIORITY = 150
BACKUP_PRIORITY = 100
RESTART_MAX = 2
RESTART_WITHIN = 300
RESTART_WAIT = 2

SINK_PORT = 18080
"""Where the webhook sink listens on the gateway."""

SINK_URL = f"http://{SUBNET_PREFIX}.{GATEWAY_HOST}:{SINK_PORT}/alerts"
"""The webhook channel's URL: the sink on the lab's gateway (10.213.7.254)."""

COALESCE = 0.5
"""The outbox's ``coalesce``: how long an alert is held for flaps to collapse into it."""

UNQUOTABLE = re.compile(r"[\s\"'\\]")
"""Characters a path on a keepalived script line cannot hold (it splits the line on spaces)."""


@dataclass(frozen=True)
class KakitFiles:
    """Where one lab node's kakit keeps its files (lab nodes share the filesystem).

    Attributes:
        config: The node's kakit.yaml, passed to kacheck with ``-c``.
        state_dir: Volatile state (results, restart history, locks).
        data_dir: Persistent state (latches).
        log: kakit's log file: one line per kacheck run.
    """

    config: Path
    state_dir: Path
    data_dir: Path
    log: Path

    def latch(self, check: str = CHECK) -> Path:
        """Return the latch file of a check.

        Args:
            check: Check name.

        Returns:
            ``DATA_DIR/latches/CHECK``.
        """
        return self.data_dir / "latches" / check

    def log_lines(self) -> list[str]:
        """Return every line kakit has logged so far (empty before the first run)."""
        try:
            return self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []


def kakit_files(node: Node) -> KakitFiles:
    """Return the kakit file layout inside a node's directory.

    Args:
        node: The lab node.

    Returns:
        Paths under ``node.dir``; nothing is created.
    """
    return KakitFiles(
        config=node.dir / "kakit.yaml",
        state_dir=node.dir / "kakit-run",
        data_dir=node.dir / "kakit-lib",
        log=node.dir / "kakit.log",
    )


@dataclass(frozen=True)
class Alerting:
    """kanotify as keepalived's ``notify`` target, alerting a webhook.

    Attributes:
        kanotify: Absolute path of the kanotify console script.
        url: The webhook channel's URL (the lab's sink).
    """

    kanotify: str
    url: str = SINK_URL


def kakit_yaml_text(
    node: Node,
    files: KakitFiles,
    on_failure: str = "fail",
    alerting: Alerting | None = None,
    vip: str = VIP,
    restart_max: int = RESTART_MAX,
) -> str:
    """Build a node's kakit.yaml: private directories and the nginx check of that node.

    With ``alerting``, also kanotify's sections: MASTER sets ``net.ipv4.ip_nonlocal_bind`` and
    accepts VRRP and the VIP in kakit's firewall chain, BACKUP resets the sysctl, and every
    state change is alerted to the webhook channel ``sink``.

    Args:
        node: The lab node (its name, nginx config and pid file are used).
        files: The node's kakit file layout.
        on_failure: ``fail`` or ``stop-keepalived``.
        alerting: kanotify's webhook, or None for kacheck only.
        vip: The virtual address MASTER's firewall rule accepts.
        restart_max: The check's restart budget (per ``RESTART_WITHIN`` seconds).

    Returns:
        YAML text; paths are JSON-quoted, which YAML reads as plain strings.
    """
    nginx = shutil.which("nginx") or "nginx"
    conf = str(node.nginx_conf)

    def q(value: object) -> str:
        return json.dumps(str(value))

    def words(*argv: str) -> str:
        return "[" + ", ".join(q(word) for word in argv) + "]"

    text = (
        f"# kakit lab: kakit.yaml for node {node.name} (generated)\n"
        "version: 1\n"
        f"node: {q(node.name)}\n"
        f"paths: {{state_dir: {q(files.state_dir)}, data_dir: {q(files.data_dir)}}}\n"
        # debug: one line per kacheck run, which the lab's tests and narration read.
        f"log: {{file: {q(files.log)}, syslog: false, level: debug}}\n"
        f"keepalived: {{config: {q(node.keepalived_conf)}}}\n"
        "checks:\n"
        f"  {CHECK}:\n"
        f"    pidfile: {q(node.nginx_pidfile)}\n"
        f"    restart_command: {words(nginx, '-c', conf)}\n"
        f"    config_test: {words(nginx, '-t', '-q', '-c', conf)}\n"
        f"    restart: {{max: {restart_max}, within: {RESTART_WITHIN}, wait: {RESTART_WAIT}}}\n"
        f"    on_failure: {on_failure}\n"
    )
    if alerting is None:
        return text
    return (
        text + "states:\n"
        "  MASTER:\n"
        "    sysctl: {net.ipv4.ip_nonlocal_bind: 1}\n"
        f"    firewall: {{accept: [vrrp, {{destination: {q(vip)}}}]}}\n"
        "  BACKUP:\n"
        "    sysctl: {net.ipv4.ip_nonlocal_bind: 0}\n" + sink_alerting_yaml(alerting.url)
    )


def sink_alerting_yaml(url: str = SINK_URL, coalesce: float = COALESCE) -> str:
    """The kakit.yaml sections that alert everything to the webhook sink at ``url``."""
    return (
        "channels:\n"
        f"  sink: {{type: webhook, url: {json.dumps(url)}}}\n"
        "alerts:\n"
        "  - channels: [sink]\n"
        f"outbox: {{coalesce: {coalesce:g}}}\n"
    )


def kacheck_script_body(kacheck: str, config: Path, check: str = CHECK) -> str:
    """Build the inside of the ``vrrp_script`` block that runs kacheck.

    keepalived gives scripts no useful environment, so the configuration goes on the command
    line. ``weight 0`` turns a failure into FAULT; ``init_fail`` keeps a node out of the
    election until kacheck has passed once; the timeout leaves room for kacheck's restart wait.

    Args:
        kacheck: Absolute path of the kacheck console script.
        config: The node's kakit.yaml.
        check: The check name.

    Returns:
        The block's lines.

    Raises:
        ValueError: A path contains whitespace, quotes or backslashes (keepalived splits the
            script line on spaces).
    """
    _check_quotable(kacheck, str(config))
    return "\n".join(
        [
            f'script "{kacheck} -c {config} {check}"',
            "interval 1",
            f"timeout {RESTART_WAIT + 3}",
            "fall 1",
            "rise 1",
            "weight 0",
            "init_fail",
        ]
    )


def _check_quotable(*paths: str) -> None:
    """Raise ValueError for a path keepalived could not take on a script line.

    keepalived splits script lines on spaces, so whitespace, quotes and backslashes are out.
    """
    for path in paths:
        if UNQUOTABLE.search(path):
            raise ValueError(f"path {path!r} contains whitespace or quotes")


def kanotify_notify_line(kanotify: str, config: Path) -> str:
    """Build the ``notify`` line that makes keepalived run kanotify on every state change.

    keepalived appends ``INSTANCE NAME STATE PRIORITY``, which kanotify reads from the end.

    Args:
        kanotify: Absolute path of the kanotify console script.
        config: The node's kakit.yaml.

    Returns:
        The line for the ``vrrp_instance`` block.

    Raises:
        ValueError: A path contains whitespace, quotes or backslashes.
    """
    _check_quotable(kanotify, str(config))
    return f'notify "{kanotify} -c {config}"'


@dataclass(frozen=True)
class Vrrp:
    """How the pair speaks VRRP.

    Attributes:
        version: 2 (whole-second adverts) or 3.
        advert_int: Seconds between adverts (below 1 s needs version 3).
        track_file: A kaprobe track file the node tracks (weight 1, FAULT while not Up), or None.
    """

    version: int = 2
    advert_int: float = 1.0
    track_file: Path | None = None


def write_kakit_files(
    node: Node,
    on_failure: str = "fail",
    alerting: Alerting | None = None,
    vip: str = VIP,
    restart_max: int = RESTART_MAX,
) -> KakitFiles:
    """Write a node's kakit.yaml (see `kakit_yaml_text`) after removing its old state.

    Args:
        node: The lab node.
        on_failure: The check's ``on_failure`` setting.
        alerting: kanotify and its webhook, or None for kacheck only.
        vip: The virtual address.
        restart_max: The check's restart budget.

    Returns:
        The node's kakit file layout.
    """
    files = kakit_files(node)
    # A fresh start: restart history, latches and queued alerts left by an earlier run in the
    # same directory would otherwise change what kacheck and kanotify do.
    for stale in (files.state_dir, files.data_dir):
        shutil.rmtree(stale, ignore_errors=True)
    files.config.write_text(kakit_yaml_text(node, files, on_failure, alerting, vip, restart_max))
    return files


def configure_node(
    node: Node,
    priority: int,
    kacheck: str,
    on_failure: str = "fail",
    vip: str = VIP,
    alerting: Alerting | None = None,
    vrrp: Vrrp | None = None,
) -> KakitFiles:
    """Write a node's kakit.yaml and a keepalived.conf tracking ``kacheck nginx``.

    kakit state, latches and outbox of an earlier run in the node's directory are removed.
    With ``alerting``, keepalived also runs kanotify as ``notify`` and the kakit.yaml (which
    then holds the webhook URL, an inline secret to kanotify) is made readable by root only.

    Args:
        node: The lab node.
        priority: VRRP priority.
        kacheck: Absolute path of the kacheck console script.
        on_failure: The check's ``on_failure`` setting.
        vip: The virtual address (default: the lab's VIP, 10.213.7.100).
        alerting: kanotify and its webhook, or None for kacheck only.
        vrrp: VRRP version, advert interval and a tracked kaprobe file (default: VRRPv2,
            1 s, none).

    Returns:
        The node's kakit file layout.
    """
    vrrp = vrrp or Vrrp()
    files = write_kakit_files(node, on_failure, alerting, vip)
    notify = ""
    if alerting is not None:
        files.config.chmod(0o600)
        notify = kanotify_notify_line(alerting.kanotify, files.config)
    node.write_keepalived_conf(
        vrrp_instance_conf(
            node,
            priority=priority,
            vip=vip,
            track_scripts={VRRP_SCRIPT: kacheck_script_body(kacheck, files.config)},
            advert_int=vrrp.advert_int,
            extra_global=f"vrrp_version {vrrp.version}" if vrrp.version != 2 else "",
            extra_top=""
            if vrrp.track_file is None
            else track_file_block(TRACK_FILE, vrrp.track_file),
            extra_instance=notify
            + ("" if vrrp.track_file is None else f"\ntrack_file {{\n    {TRACK_FILE}\n}}"),
        )
    )
    return files
