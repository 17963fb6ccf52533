"""The lines keepalived writes to its notify FIFOs, parsed without trusting them.

keepalived writes one line per event with a single ``write()`` (shorter than ``PIPE_BUF``, so
lines never interleave), in two families (docs/kanotify.md, "The notify FIFO"):

- VRRP: ``INSTANCE "VI_1" MASTER 100`` and ``GROUP "G1" BACKUP 0`` (``%s "%s" %s %d``). Names are
  not escaped: a name may hold spaces or quotes, so the name is what lies between the first and
  the last double quote. States are the five transitions plus ``MASTER_RX_LOWER_PRI``,
  ``MASTER_PRIORITY`` and ``BACKUP_PRIORITY``, which report a priority while the state stays.
- LVS: ``VS [10.0.0.1]:tcp:80 UP`` and ``RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN``. A
  virtual server may be a firewall mark, ``FWM 100``: two words. keepalived's development branch
  writes these lines with their terminating NUL byte; 2.2.7 does not.

Anything else is a :class:`FifoLineError` naming the bytes: the reader logs it and goes on. A
line is never half-understood: an unknown state word is an error, not a guess, so a parsed line
never carries a wrong state.
"""

from __future__ import annotations

from kakit.core.events import KINDS, STATES
from kakit.core.log import printable
from kakit.core.record import frozen
from kakit.exceptions import KakitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal, TypeAlias

    from kakit.core.events import Kind, State

    Word: TypeAlias = Literal[
        "MASTER",
        "BACKUP",
        "FAULT",
        "STOP",
        "DELETED",
        "MASTER_RX_LOWER_PRI",
        "MASTER_PRIORITY",
        "BACKUP_PRIORITY",
    ]

#: Longest line kept: keepalived's lines fit in one atomic pipe write (``PIPE_BUF``, 4096).
MAX_LINE = 4096

#: The words that report a priority, or an advert, while the state stays: the state they imply.
STAYS: dict[str, State] = {
    "MASTER_RX_LOWER_PRI": "MASTER",
    "MASTER_PRIORITY": "MASTER",
    "BACKUP_PRIORITY": "BACKUP",
}
WORDS: tuple[Word, ...] = (*STATES, "MASTER_RX_LOWER_PRI", "MASTER_PRIORITY", "BACKUP_PRIORITY")


class FifoLineError(KakitError):
    """A FIFO line that is not one of keepalived's formats (the message shows its bytes)."""


@frozen
class VrrpLine:
    """One VRRP line: an instance or sync group, what keepalived says of it, its priority.

    Attributes:
        kind: ``INSTANCE`` or ``GROUP``.
        name: The instance or group name (bytes that are not UTF-8 shown as ``\\xNN``, as the
            notify-script path does, so both name an instance alike).
        word: keepalived's word: a state, or one of :data:`STAYS`.
        priority: The priority keepalived wrote (always 0 for a group).
    """

    kind: Kind
    name: str
    word: Word
    priority: int

    @property
    def state(self) -> State:
        """The state the instance is in after this line (``MASTER_PRIORITY`` means MASTER)."""
        return STAYS.get(self.word) or self.word  # type: ignore[return-value]

    @property
    def transition(self) -> bool:
        """True for a change of state, False for a report while the state stays."""
        return self.word not in STAYS


@frozen
class LvsLine:
    """One LVS checker line: a virtual or real server went up or down.

    Attributes:
        kind: ``VS`` (a virtual server as a whole) or ``RS`` (one real server of it).
        virtual: The virtual server as keepalived wrote it (``[10.0.0.1]:tcp:80``,
            ``[group]:80`` or ``FWM 100``).
        real: The real server (``[10.0.0.2]:tcp:80``); empty for ``VS``.
        up: UP (True) or DOWN (False).
    """

    kind: Literal["VS", "RS"]
    virtual: str
    real: str
    up: bool


def _error(raw: bytes, why: str) -> FifoLineError:
    shown = printable(raw[:200].decode("utf-8", "surrogateescape"))
    more = f" (+{len(raw) - 200} bytes)" if len(raw) > 200 else ""
    return FifoLineError(f"FIFO line {shown!r}{more}: {why}")


def _server(text: str) -> bool:
    # ``[address]:proto:port`` or ``[group]:port``: bracketed, then a port after a colon.
    return (
        text.startswith("[")
        and "]:" in text
        and " " not in text
        and text.rsplit(":", 1)[1].isdigit()
    )


def _virtual(words: list[str]) -> str | None:
    if len(words) == 1 and _server(words[0]):
        return words[0]
    if len(words) == 2 and words[0] == "FWM" and words[1].isdigit() and words[1].isascii():
        return f"FWM {int(words[1])}"
    return None


def _lvs(raw: bytes, text: str) -> LvsLine:
    words = text.split(" ")
    if words[-1] not in ("UP", "DOWN"):
        raise _error(raw, "an LVS line ends in UP or DOWN")
    up = words[-1] == "UP"
    if words[0] == "VS":
        virtual = _virtual(words[1:-1])
        if virtual is None:
            raise _error(raw, "expected VS [address]:proto:port, VS [group]:port or VS FWM n")
        return LvsLine(kind="VS", virtual=virtual, real="", up=up)
    if len(words) < 4 or not _server(words[1]):
        raise _error(raw, "expected RS [address]:proto:port, then the virtual server")
    virtual = _virtual(words[2:-1])
    if virtual is None:
        raise _error(raw, "expected the RS line's virtual server as [address]:proto:port or FWM n")
    return LvsLine(kind="RS", virtual=virtual, real=words[1], up=up)


def _vrrp(raw: bytes, text: str) -> VrrpLine:
    kind, _, rest = text.partition(" ")
    first, last = rest.find('"'), rest.rfind('"')
    if first != 0 or last <= first:
        raise _error(raw, f'expected {kind} "NAME" STATE PRIORITY')
    name = rest[1:last]
    tail = rest[last + 1 :].split(" ")
    if len(tail) != 3 or tail[0] != "":
        raise _error(raw, "expected STATE PRIORITY after the quoted name")
    word, number = tail[1], tail[2]
    if word not in WORDS:
        raise _error(raw, f"unknown state {printable(word)!r}")
    if not (number.isascii() and number.isdigit()) or not 0 <= int(number) <= 255:
        raise _error(raw, "the priority is a number 0..255")
    if not name:
        raise _error(raw, "empty name")
    return VrrpLine(kind=kind, name=printable(name), word=word, priority=int(number))  # type: ignore[arg-type]


def parse_line(raw: bytes) -> VrrpLine | LvsLine:
    """One FIFO line (without its newline) as a record.

    Raises:
        FifoLineError: The line is none of keepalived's formats; the message shows the bytes.
    """
    if len(raw) > MAX_LINE:
        raise _error(raw, f"longer than {MAX_LINE} bytes")
    # The development branch's LVS lines carry their C string's NUL.
    text = raw.rstrip(b"\0").decode("utf-8", "surrogateescape")
    head = text.split(" ", 1)[0]
    if head in KINDS:
        return _vrrp(raw, text)
    if head in ("VS", "RS"):
        return _lvs(raw, text)
    raise _error(raw, "expected INSTANCE, GROUP, VS or RS first")


class LineSplitter:
    """Cuts the byte stream read from the FIFO into lines, however the reads fall.

    A line longer than :data:`MAX_LINE` is not kept whole: its first bytes are returned (so the
    parser reports them) and the rest is dropped up to the next newline. Memory stays bounded
    whatever is written into the FIFO.
    """

    def __init__(self) -> None:
        self._pending = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes]:
        """The complete lines ``data`` finishes, without their newlines."""
        lines: list[bytes] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            if self._discarding:
                self._discarding = False
            else:
                self._pending += data[start:end]
                lines.append(bytes(self._pending[: MAX_LINE + 1]))
            self._pending.clear()
            start = end + 1
        if not self._discarding:
            self._pending += data[start:]
            if len(self._pending) > MAX_LINE:
                lines.append(bytes(self._pending[: MAX_LINE + 1]))
                self._pending.clear()
                self._discarding = True
        return lines

    @property
    def pending(self) -> bytes:
        """Bytes of an unfinished line (kept when the writer closes mid-line: nothing follows)."""
        return bytes(self._pending)
