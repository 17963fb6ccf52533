"""Every keepalived.conf and kakit.yaml snippet in README.md, docs/ and contrib/ passes as pasted.

A fenced block's info string says what it is:

- ```` ```keepalived ```` a whole keepalived.conf: ``keepalived -t`` must exit 0 on it as it is;
- ```` ```keepalived fragment ```` part of one: completed here with the `global_defs` every
  page asks for, the rest of a ``vrrp_instance`` written as ``...``, and an instance tracking
  the scripts and files it defines (:func:`complete_keepalived`);
- ```` ```yaml ```` a whole kakit.yaml: ``kakit config check`` must exit 0 on it.

Paths of the tools are pointed at a ``make install`` in a temporary prefix, and the secret files
a YAML block names are created (root-owned, 0600) in a temporary directory. An unmarked block
that looks like either kind fails: mark it, so that it is checked.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.deploy.conftest import ROOT, Install, components, unsafe

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CONTRIB_KEEPALIVED = sorted((ROOT / "contrib" / "keepalived").glob("*.conf"))
CONTRIB_YAML = sorted((ROOT / "contrib").glob("*.yaml"))

KEEPALIVED_BLOCK = re.compile(
    r"^\s*(global_defs|vrrp_script|vrrp_instance|vrrp_sync_group|track_file|virtual_server)\b"
    r"[^\n]*\{",
    re.MULTILINE,
)
YAML_TOP_KEYS = "version|node|paths|log|checks|states|hooks|channels|alerts|templates|outbox|probes|fifo|keepalived|realserver"
YAML_CONFIG = re.compile(rf"^({YAML_TOP_KEYS}):", re.MULTILINE)

GLOBAL_DEFS = "global_defs {\n    enable_script_security\n    script_user root\n}\n"
TOOL_PATH = re.compile(r"/usr/local/bin/(kacheck|kanotify|kakit)\b")
# The program of a script or notify keyword: the first word of its (quoted) value.
# Keywords that name a program: script, notify*, *notify_fifo_script (not notify_fifo: a FIFO).
SCRIPT_PROGRAM = re.compile(
    r'^\s*(?:script|(?:\w+_)?notify(?:_\w+)?(?<!_fifo))\s+"?([^"\s]+)', re.MULTILINE
)
SECRET_PATH = re.compile(r"/etc/kakit/([\w.-]+)")


class Block(NamedTuple):
    """One fenced block: where it starts, its info string and its text."""

    where: str
    info: str
    text: str


def fenced_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, each named ``file:line`` of its opening fence."""
    found = []
    lines = path.read_text(encoding="utf-8").splitlines()
    number = 0
    while number < len(lines):
        opening = re.match(r"^```(.*)$", lines[number])
        if opening:
            start = number
            number += 1
            while not lines[number].startswith("```"):
                number += 1
            text = "".join(f"{line}\n" for line in lines[start + 1 : number])
            where = f"{path.relative_to(ROOT)}:{start + 1}"
            found.append(Block(where, opening.group(1).strip(), text))
        number += 1
    return found


def whole_file(path: Path, info: str) -> Block:
    return Block(str(path.relative_to(ROOT)), info, path.read_text(encoding="utf-8"))


ALL_DOC_BLOCKS = [block for path in DOCS for block in fenced_blocks(path)]
KEEPALIVED = [b for b in ALL_DOC_BLOCKS if b.info.split()[:1] == ["keepalived"]]
KEEPALIVED += [whole_file(path, "keepalived") for path in CONTRIB_KEEPALIVED]
YAML = [b for b in ALL_DOC_BLOCKS if b.info == "yaml"]
YAML += [whole_file(path, "yaml") for path in CONTRIB_YAML]


def ids(blocks: list[Block]) -> list[str]:
    return [block.where for block in blocks]


def instance_body(number: int) -> str:
    """The lines a ``vrrp_instance`` cannot do without: what a fragment's ``...`` stands for."""
    return (
        f"    interface eth0\n    virtual_router_id {number}\n    priority 100\n"
        f"    virtual_ipaddress {{\n        10.213.250.{number}/24\n    }}\n"
    )


def minimal_instance(name: str, number: int, extra: str = "") -> str:
    return f"vrrp_instance {name} {{\n{instance_body(number)}{extra}}}\n"


def complete_keepalived(fragment: str) -> str:
    """A whole keepalived.conf around a fragment, adding only what the fragment leaves out."""
    text = fragment if "global_defs" in fragment else GLOBAL_DEFS + fragment
    numbers = iter(range(1, 250))
    text = re.sub(
        r"^[ \t]*\.\.\.[ \t]*\n",
        lambda _: instance_body(next(numbers)),
        text,
        flags=re.MULTILINE,
    )
    defined = set(re.findall(r"^\s*vrrp_instance\s+(\S+)", text, re.MULTILINE))
    members = {
        name
        for group in re.findall(r"^\s*group\s*\{([^}]*)\}", text, re.MULTILINE)
        for name in group.split()
    }
    for name in sorted(members - defined):
        text += minimal_instance(name, next(numbers))
    if not defined:
        scripts = re.findall(r"^\s*vrrp_script\s+(\S+)", text, re.MULTILINE)
        files = re.findall(r"^\s*track_file\s+(\S+)\s*\{", text, re.MULTILINE)
        tracked = "".join(
            f"    {keyword} {{\n" + "".join(f"        {n}\n" for n in names) + "    }\n"
            for keyword, names in (("track_script", scripts), ("track_file", files))
            if names
        )
        text += minimal_instance("VI_TEST", next(numbers), tracked)
    return text


def keepalived_test(config: Path) -> subprocess.CompletedProcess[str]:
    """``keepalived -t`` in a private network namespace that has an ``eth0``.

    -t only parses and validates (no daemon, no pid file, nothing under /etc/keepalived); the
    namespace keeps the host's interfaces out of the verdict, so the snippets' ``eth0`` exists
    wherever the test runs.
    """
    script = "ip link add eth0 type veth peer name eth1 && exec keepalived -t -f " + str(config)
    return subprocess.run(
        ["unshare", "--net", "sh", "-c", script], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("block", KEEPALIVED, ids=ids(KEEPALIVED))
def test_keepalived_snippet_passes_config_test(block: Block, installed: Install, tmp_path: Path):
    """keepalived -t exits 0, scripts pointed at a `make install`: none disabled, none unsafe."""
    text = block.text if block.info == "keepalived" else complete_keepalived(block.text)
    text = TOOL_PATH.sub(lambda m: installed.bin(m.group(1)), text)
    config = tmp_path / "keepalived.conf"
    config.write_text(text)
    done = keepalived_test(config)
    assert done.returncode == 0, f"{block.where}: rc {done.returncode}\n{done.stderr}\n{text}"
    # keepalived 2.2.7's -t checks track scripts only: a missing or unsafe notify program
    # passes it. So its rule is applied here to every program the snippet names.
    programs = [Path(p) for p in SCRIPT_PROGRAM.findall(text)]
    paths = [*programs, *(Path(os.path.realpath(p)) for p in programs)]
    assert all(os.access(p, os.X_OK) for p in programs), programs
    assert [why for p in paths for c in components(p) if (why := unsafe(c))] == []


def secret_content(name: str) -> str:
    if name.endswith(".url"):
        return "https://robot.example.com/send?access_token=0123456789abcdef\n"
    return "s3cret-0123456789\n"


@pytest.mark.parametrize("block", YAML, ids=ids(YAML))
def test_yaml_snippet_passes_config_check(block: Block, installed: Install, tmp_path: Path):
    """`kakit config check` accepts the block as written, with the secret files it names."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    tmp_path.chmod(0o755)

    def secret_file(match: re.Match[str]) -> str:
        path = secrets / match.group(1)
        path.write_text(secret_content(path.name))
        path.chmod(0o600)
        return str(path)

    text = SECRET_PATH.sub(secret_file, block.text)
    config = tmp_path / "kakit.yaml"
    config.write_text(text)
    config.chmod(0o644)  # as an operator leaves it: secrets must be references, not inline
    done = subprocess.run(
        [installed.bin("kakit"), "config", "check", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{block.where}:\n{done.stdout[-2000:]}{done.stderr}"


def test_every_config_looking_block_is_marked():
    """A block that looks like keepalived.conf or kakit.yaml says which, so it is tested."""
    unmarked = [
        block.where
        for block in ALL_DOC_BLOCKS
        if block.info.split()[:1] not in (["keepalived"], ["yaml"])
        and (KEEPALIVED_BLOCK.search(block.text) or YAML_CONFIG.search(block.text))
    ]
    assert unmarked == []


def test_completing_a_fragment_tracks_what_it_defines():
    """A fragment with only a vrrp_script gets security on and an instance that tracks it."""
    text = complete_keepalived('vrrp_script chk {\n    script "/x/kacheck flag"\n}\n')
    assert text.startswith(GLOBAL_DEFS)
    assert re.search(r"track_script \{\n\s+chk\n", text)
