"""Specification of the notify-FIFO line parser: keepalived's formats, and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kakit.core.log import printable
from kakit.keepalived.fifo import (
    MAX_LINE,
    WORDS,
    FifoLineError,
    LineSplitter,
    LvsLine,
    VrrpLine,
    parse_line,
)

# Lines as keepalived 2.2.7 writes them (measured for VRRP; LVS from its format strings in
# check/ipwrapper.c, since this kernel has no ip_vs), and what they mean.
GOOD: list[tuple[bytes, VrrpLine | LvsLine]] = [
    (
        b'INSTANCE "VI_1" MASTER 100',
        VrrpLine(kind="INSTANCE", name="VI_1", word="MASTER", priority=100),
    ),
    (b'GROUP "G1" BACKUP 0', VrrpLine(kind="GROUP", name="G1", word="BACKUP", priority=0)),
    (
        b'INSTANCE "VI_1" FAULT 50',
        VrrpLine(kind="INSTANCE", name="VI_1", word="FAULT", priority=50),
    ),
    (
        b'INSTANCE "VI_2" DELETED 100',
        VrrpLine(kind="INSTANCE", name="VI_2", word="DELETED", priority=100),
    ),
    (b'GROUP "G1" STOP 0', VrrpLine(kind="GROUP", name="G1", word="STOP", priority=0)),
    (
        b'INSTANCE "VI_1" MASTER_PRIORITY 80',
        VrrpLine(kind="INSTANCE", name="VI_1", word="MASTER_PRIORITY", priority=80),
    ),
    (
        b'INSTANCE "VI_1" BACKUP_PRIORITY 90',
        VrrpLine(kind="INSTANCE", name="VI_1", word="BACKUP_PRIORITY", priority=90),
    ),
    (
        b'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100',
        VrrpLine(kind="INSTANCE", name="VI_1", word="MASTER_RX_LOWER_PRI", priority=100),
    ),
    (
        b'INSTANCE "web front" MASTER 100',
        VrrpLine(kind="INSTANCE", name="web front", word="MASTER", priority=100),
    ),
    (
        b'INSTANCE "say "hi" MASTER" BACKUP 7',
        VrrpLine(kind="INSTANCE", name='say "hi" MASTER', word="BACKUP", priority=7),
    ),
    (
        b'INSTANCE "caf\xc3\xa9" MASTER 1',
        VrrpLine(kind="INSTANCE", name="caf\u00e9", word="MASTER", priority=1),
    ),
    (
        b'INSTANCE "bad\xff" MASTER 1',
        VrrpLine(kind="INSTANCE", name="bad\\xff", word="MASTER", priority=1),
    ),
    (
        b"VS [10.213.0.10]:tcp:80 UP",
        LvsLine(kind="VS", virtual="[10.213.0.10]:tcp:80", real="", up=True),
    ),
    (b"VS [web]:80 DOWN", LvsLine(kind="VS", virtual="[web]:80", real="", up=False)),
    (b"VS FWM 100 UP", LvsLine(kind="VS", virtual="FWM 100", real="", up=True)),
    (
        b"RS [10.213.0.2]:tcp:80 [10.213.0.10]:tcp:80 DOWN",
        LvsLine(kind="RS", virtual="[10.213.0.10]:tcp:80", real="[10.213.0.2]:tcp:80", up=False),
    ),
    (
        b"RS [10.213.0.2]:tcp:80 FWM 7 UP",
        LvsLine(kind="RS", virtual="FWM 7", real="[10.213.0.2]:tcp:80", up=True),
    ),
    (
        b"RS [fd00::2]:udp:53 [fd00::10]:udp:53 UP\0",
        LvsLine(kind="RS", virtual="[fd00::10]:udp:53", real="[fd00::2]:udp:53", up=True),
    ),
    (b"VS FWM 100 UP\0", LvsLine(kind="VS", virtual="FWM 100", real="", up=True)),
]

BAD: list[tuple[bytes, str]] = [
    (b"", "expected INSTANCE, GROUP, VS or RS first"),
    (b"HELLO world", "expected INSTANCE, GROUP, VS or RS first"),
    (b'INSTANCE "VI_1" {UNKNOWN} 100', "unknown state '{UNKNOWN}'"),
    (b'INSTANCE "VI_1" master 100', "unknown state 'master'"),
    (b'INSTANCE "VI_1" MASTER', "expected STATE PRIORITY"),
    (b'INSTANCE "VI_1" MASTER 256', "0..255"),
    (b'INSTANCE "VI_1" MASTER -1', "0..255"),
    (b'INSTANCE "VI_1" MASTER \xd9\xa3', "0..255"),
    (b'INSTANCE "VI_1" MASTER 100 extra', "expected STATE PRIORITY"),
    (b"INSTANCE VI_1 MASTER 100", 'expected INSTANCE "NAME"'),
    (b'INSTANCE "" MASTER 100', "empty name"),
    (b'INSTANCE "VI_1"MASTER 100', "expected STATE PRIORITY"),
    (b"VS [10.213.0.10]:tcp:80 SIDEWAYS", "ends in UP or DOWN"),
    (b"VS 10.213.0.10:80 UP", "VS [address]:proto:port"),
    (b"VS FWM x UP", "VS FWM n"),
    (b"RS [10.213.0.2]:tcp:80 UP", "expected RS"),
    (b"RS [10.213.0.2]:tcp:80 nonsense UP", "virtual server"),
    (b"RS [10.213.0.2]:tcp:80 FWM UP", "virtual server"),
    (b"RS [10.213.0.2]:tcp:80 FWM 7 8 UP", "virtual server"),
    (b"RS [10.213.0.2]:tcp:80 [10.213.0.10]:tcp:80", "ends in UP or DOWN"),
    (b"RS [10.213.0.2]:tcp:80  [10.213.0.10]:tcp:80 UP", "virtual server"),
    (b"RS [10.213.0.2 x]:tcp:80 [10.213.0.10]:tcp:80 UP", "expected RS"),
    (b"VS FWM \xd9\xa3 UP", "VS FWM n"),
    (b"VS [10.213.0.10]:tcp:http UP", "VS [address]:proto:port"),
    (b"VS  UP", "VS [address]:proto:port"),
    (b'INSTANCE "a\x1b[2J" SOMETHING 1', "\\x1b"),
    (b'INSTANCE "' + b"x" * MAX_LINE + b'" MASTER 1', f"longer than {MAX_LINE} bytes"),
]


@pytest.mark.parametrize(("raw", "expected"), GOOD, ids=[raw.decode("latin-1") for raw, _ in GOOD])
def test_keepalived_lines_parse(raw: bytes, expected: VrrpLine | LvsLine) -> None:
    """Every line format keepalived writes becomes the record it means."""
    assert parse_line(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"), BAD, ids=[raw[:40].decode("latin-1") for raw, _ in BAD]
)
def test_other_lines_are_refused_with_their_bytes(raw: bytes, message: str) -> None:
    """Anything else is one error naming the line, never a guess."""
    with pytest.raises(FifoLineError) as caught:
        parse_line(raw)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)


def test_staying_words_keep_the_state() -> None:
    """Priority reports say which state the instance stays in, and are not transitions."""
    line = parse_line(b'INSTANCE "VI_1" MASTER_PRIORITY 80')
    assert isinstance(line, VrrpLine)
    assert (line.state, line.transition) == ("MASTER", False)
    line = parse_line(b'INSTANCE "VI_1" FAULT 80')
    assert isinstance(line, VrrpLine)
    assert (line.state, line.transition) == ("FAULT", True)


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\n\0"),
    min_size=1,
    max_size=40,
)


@given(
    kind=st.sampled_from(["INSTANCE", "GROUP"]),
    name=names,
    word=st.sampled_from(WORDS),
    priority=st.integers(0, 255),
)
def test_any_name_round_trips(kind: str, name: str, word: str, priority: int) -> None:
    """Whatever the name holds (spaces, quotes, state words), the state and priority are right.

    The name is the one the notify-script path gives for the same bytes (unprintable characters
    escaped by ``printable``), so both paths name an instance alike.
    """
    raw = f'{kind} "{name}" {word} {priority}'.encode()
    line = parse_line(raw)
    expected = VrrpLine(kind=kind, name=printable(name), word=word, priority=priority)  # type: ignore[arg-type]
    assert line == expected


@given(st.binary(max_size=300))
def test_no_bytes_crash_the_parser(raw: bytes) -> None:
    """Arbitrary bytes parse or raise FifoLineError; nothing else escapes."""
    try:
        line = parse_line(raw)
    except FifoLineError:
        return
    if isinstance(line, VrrpLine):
        # A parsed line's state word is the one written just before its priority.
        assert raw.rstrip(b"\0").split(b" ")[-2].decode() == line.word


@given(st.lists(st.binary(max_size=60), max_size=30), st.data())
def test_splitter_finds_the_same_lines_however_reads_fall(
    chunks: list[bytes], data: st.DataObject
) -> None:
    """Lines come out whole and in order, whatever the read boundaries."""
    stream = b"".join(chunks)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    splitter = LineSplitter()
    got: list[bytes] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        got += splitter.feed(stream[start:cut])
        start = cut
    *whole, rest = stream.split(b"\n")
    assert got == whole
    assert splitter.pending == rest


def test_splitter_bounds_a_line_without_newline() -> None:
    """A writer that never ends its line costs at most one line of memory."""
    splitter = LineSplitter()
    first = splitter.feed(b"x" * (MAX_LINE + 10))
    assert [len(line) for line in first] == [MAX_LINE + 1]
    assert splitter.feed(b"y" * 100_000) == []
    assert splitter.feed(b'tail\nINSTANCE "VI_1" MASTER 1\n') == [b'INSTANCE "VI_1" MASTER 1']
    assert splitter.pending == b""


hosts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=" \n\0"),
    max_size=20,
)
servers = st.builds(lambda host, port: f"[{host}]:tcp:{port}", hosts, st.integers(0, 65535))
lvs_tails = st.one_of(
    st.binary(max_size=120),
    st.builds(
        lambda real, virtual, word: f"{real} {virtual} {word}".encode(),
        servers,
        st.one_of(servers, st.integers(0, 2**32).map(lambda mark: f"FWM {mark}")),
        st.sampled_from(["UP", "DOWN", "UP\0"]),
    ),
)


@given(lvs_tails)
def test_an_lvs_event_names_the_servers_the_line_did(tail: bytes) -> None:
    """Whatever follows ``RS ``/``VS ``, a parsed line's stored event gives back its servers."""
    from kakit.core.events import lvs_servers
    from kakit.kanotify.resident import lvs_report

    for head in (b"RS ", b"VS "):
        try:
            line = parse_line(head + tail)
        except FifoLineError:
            continue
        assert isinstance(line, LvsLine)
        report = lvs_report(line, {"time": 0.0, "boot": "", "mono": 0.0})
        assert lvs_servers(report.kind, report.name) == (line.virtual, line.real)
        assert report.event == f"{line.kind.lower()}_{'up' if line.up else 'down'}"
