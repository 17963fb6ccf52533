"""A reader of ``keepalived.conf``: a tree of statements and blocks, each with its file and line.

kakit reads keepalived's configuration to say, in an alert, which virtual addresses an event
concerns: the ``virtual_ipaddress`` of an instance (kanotify), or of the instances whose
``track_script`` runs ``kacheck NAME`` (kacheck). The tree is general on purpose, so that a lint
tool can grow on it; the extractors at the end are what alerts use.

The grammar, as keepalived 2.2 reads it (docs/architecture.md, "keepalived.conf's grammar"):

- A statement is the words of one line. ``#`` or ``!`` outside double quotes starts a comment
  to the end of the line, even inside a word (``\\#`` and ``\\!`` are literal). A ``\\`` at the
  end of a line joins nothing (only ``$NAME=`` definitions continue lines); it stays, glued to
  the word before it.
- A double-quoted string is one word, without its quotes.
- ``{`` and ``}`` outside quotes are tokens of their own wherever they are: ``{`` opens a block
  that belongs to the statement before it (on the same line or the previous one), ``}`` closes
  it. Inside a block each line is again one statement, so ``virtual_ipaddress { 10.0.0.1/24 }``
  on one line is a block with one statement.
- ``include PATTERN`` (a statement anywhere) is replaced by the files the glob pattern names,
  in sorted order; a relative pattern is relative to the directory of the including file. The
  pattern is the rest of the line, where ``{a,b}`` is a choice (glob(3) with ``GLOB_BRACE``).

What this reader does not do: ``$NAME=`` definitions and their expansion, ``@system_id``
conditional lines and ``~SEQ`` are left as ordinary words. Reading never raises for the
content: what keepalived would complain about (an unbalanced brace, an unterminated quote, an
include that matches nothing, a file that is too large or untrusted) is collected as a
:class:`Problem` next to the tree. The limits (:data:`MAX_DEPTH`, :data:`MAX_FILES`,
:data:`MAX_BYTES`) bound what a hostile or looping configuration can cost.
"""

from __future__ import annotations

import os

from kakit.core.record import frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

DEFAULT_PATH = "/etc/keepalived/keepalived.conf"
#: Deepest block nesting kept; deeper blocks are flattened into their parent (keepalived's own
#: grammar never goes past five).
MAX_DEPTH = 32
#: Most files one configuration may read through ``include`` (a glob loop stops here).
MAX_FILES = 256
#: Most bytes read over all files; a keepalived.conf is a few KiB.
MAX_BYTES = 4 << 20
#: Deepest chain of includes.
MAX_INCLUDE_DEPTH = 8
#: Most problems kept (a real file copied from a web page had 54): a file of a million ``{``
#: would otherwise give three million lines.
MAX_PROBLEMS = 200


@frozen
class Problem:
    """Something keepalived would warn about, or a limit reached, at ``file:line``.

    Attributes:
        level: ``error`` when keepalived would read the file differently or not at all;
            ``warning`` for what keepalived itself passes silently (an include that matches
            nothing).
    """

    file: str
    line: int
    message: str
    level: str = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@frozen
class Item:
    """One statement: its words, its block (None when it has none), and where it was written.

    Attributes:
        words: The statement's words, quotes removed (never empty).
        block: The statements inside its ``{ }``, or None.
        file: The file it was read from.
        line: Its line number in that file (1-based).
    """

    words: tuple[str, ...]
    block: tuple[Item, ...] | None
    file: str
    line: int

    @property
    def keyword(self) -> str:
        """The first word."""
        return self.words[0]

    @property
    def args(self) -> tuple[str, ...]:
        """The words after the keyword."""
        return self.words[1:]

    def children(self, keyword: str | None = None) -> list[Item]:
        """The statements of the block (those with ``keyword`` only, when given)."""
        return [item for item in self.block or () if keyword is None or item.keyword == keyword]

    @property
    def where(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.line}"


@frozen
class Document:
    """A read configuration: the top-level statements, the files read, the problems met."""

    items: tuple[Item, ...]
    files: tuple[str, ...]
    problems: tuple[Problem, ...]

    def find(self, keyword: str) -> list[Item]:
        """Top-level statements starting with ``keyword``."""
        return [item for item in self.items if item.keyword == keyword]


# -- tokens ---------------------------------------------------------------------------------

OPEN, CLOSE, END = "{", "}", "\n"


class _Token:
    __slots__ = ("file", "line", "text", "word")

    def __init__(self, text: str, word: bool, file: str, line: int) -> None:
        self.text = text
        self.word = word  # False for the structural tokens {, } and end of line
        self.file = file
        self.line = line


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, text)``; a final ``\\`` keeps its place but loses the blanks before it.

    keepalived joins lines ending in ``\\`` only inside ``$NAME=`` definitions; elsewhere the
    backslash stays, glued to the word before it (``router_id \\`` reads as ``router_id\\``).
    """
    # Lines end at "\n" only (keepalived reads with fgets), not at every str.splitlines break.
    for number, raw in enumerate(text.split("\n"), 1):
        stripped = raw.rstrip(" \t\r")
        # An even number of trailing backslashes is escaped backslashes: nothing is glued.
        if (len(stripped) - len(stripped.rstrip("\\"))) % 2:
            raw = stripped[:-1].rstrip(" \t") + "\\"
        yield number, raw


def _split_line(
    line: str, file: str, number: int, problems: list[Problem], *, braces: bool = True
) -> list[tuple[str, bool]]:
    """One line's tokens: ``(text, is_word)``; comments dropped, quotes removed.

    ``braces=False`` reads ``{`` and ``}`` as characters of words (an include pattern).
    """
    tokens: list[tuple[str, bool]] = []
    word: list[str] = []
    in_word = False
    odd_blank = ""
    index, size = 0, len(line)

    def flush() -> None:
        nonlocal in_word
        if in_word:
            tokens.append(("".join(word), True))
            word.clear()
            in_word = False

    while index < size:
        char = line[index]
        if char == '"':
            end = line.find('"', index + 1)
            if end < 0:
                problems.append(Problem(file=file, line=number, message="unterminated quote"))
                end = size
            word.append(line[index + 1 : end])
            in_word = True
            index = end + 1
            continue
        if char == "\\" and index + 1 < size and line[index + 1] in "#!":
            word.append(line[index + 1])
            in_word = True
            index += 2
            continue
        if char in "#!":
            break
        if char in " \t\f\v\r":
            flush()
        elif char in "{}" and braces:
            flush()
            tokens.append((char, False))
        else:
            if char in UNICODE_BLANKS and not odd_blank:
                odd_blank = char
            word.append(char)
            in_word = True
        index += 1
    flush()
    if odd_blank:
        problems.append(
            Problem(
                file=file,
                line=number,
                message=f"U+{ord(odd_blank):04X} ({UNICODE_BLANKS[odd_blank]}) is not a blank "
                "to keepalived: it is part of a word here, so this line's keyword or value is "
                "not what it looks like (copied from a web page?)",
            )
        )
    return tokens


#: Characters that look blank but are word characters to keepalived, which splits on ASCII
#: blanks only: what copying a configuration from a web page or a CJK editor brings in.
UNICODE_BLANKS = {
    "\u00a0": "no-break space",
    "\u3000": "ideographic space",
    "\u2002": "en space",
    "\u2003": "em space",
    "\u2009": "thin space",
    "\u200b": "zero-width space",
    "\ufeff": "byte order mark",
}


class _Problems(list[Problem]):
    """A list that keeps the first :data:`MAX_PROBLEMS` problems and counts the others."""

    dropped = 0

    def append(self, problem: Problem) -> None:
        if len(self) < MAX_PROBLEMS:
            super().append(problem)
        else:
            self.dropped += 1


class _Reader:
    """Reads files into one token stream, following includes within the limits."""

    def __init__(self, trusted: bool) -> None:
        self.trusted = trusted
        self.tokens: list[_Token] = []
        self.files: list[str] = []
        self.problems = _Problems()
        self.bytes = 0
        self.chain: list[str] = []  # the real paths of the files being read, outermost first

    def document(self) -> Document:
        """The tree of what was read, and the first :data:`MAX_PROBLEMS` problems."""
        items = _build(self.tokens, self.problems)
        problems = list(self.problems)
        if self.problems.dropped:
            last = problems[-1]
            problems.append(
                Problem(
                    file=last.file,
                    line=last.line,
                    message=f"{self.problems.dropped} more problems not listed",
                )
            )
        return Document(items=items, files=tuple(self.files), problems=tuple(problems))

    def problem(self, file: str, line: int, message: str, level: str = "error") -> None:
        self.problems.append(Problem(file=file, line=line, message=message, level=level))

    def read_file(self, path: str, origin: tuple[str, int] | None, depth: int) -> None:
        where_file, where_line = origin or (path, 0)
        if len(self.files) >= MAX_FILES:
            self.problem(where_file, where_line, f"more than {MAX_FILES} files; {path} not read")
            return
        if self.trusted and os.geteuid() == 0:
            from kakit.core.trust import why_unsafe

            unsafe = why_unsafe(os.path.abspath(path))
            if unsafe is not None:
                self.problem(where_file, where_line, f"{path} not read (untrusted): {unsafe}")
                return
        real = os.path.realpath(path)
        if real in self.chain:
            self.problem(where_file, where_line, f"include loop: {path} includes itself")
            return
        try:
            data = _read_config_file(path, MAX_BYTES - self.bytes + 1)
        except OSError as exc:
            self.problem(where_file, where_line, f"cannot read {path}: {exc.strerror or exc}")
            return
        if isinstance(data, tuple):
            level, why = data
            self.problem(where_file, where_line, f"{path} {why}: keepalived skips it", level)
            return
        if self.bytes + len(data) > MAX_BYTES:
            self.problem(where_file, where_line, f"over {MAX_BYTES >> 20} MiB read; {path} skipped")
            return
        self.bytes += len(data)
        self.files.append(path)
        self.chain.append(real)
        self.read_text(data.decode("utf-8", "replace"), path, depth)
        self.chain.pop()

    def read_text(self, text: str, file: str, depth: int) -> None:
        for number, line in _lines(text):
            tokens = _split_line(line, file, number, self.problems)
            if tokens and tokens[0] == ("include", True):
                # The pattern is the rest of the line, braces included: keepalived hands it
                # to glob(3) with GLOB_BRACE, so `{a,b}` there is a choice, not a block.
                words = _split_line(line, file, number, [], braces=False)
                self.include([text for text, _ in words[1:]], file, number, depth)
                continue
            self.tokens.extend(_Token(t, word, file, number) for t, word in tokens)
            self.tokens.append(_Token(END, False, file, number))

    def include(self, args: list[str], file: str, line: int, depth: int) -> None:
        if len(args) != 1:
            self.problem(file, line, "include takes one file name or pattern")
            return
        if depth >= MAX_INCLUDE_DEPTH:
            self.problem(file, line, f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
            return
        import glob

        pattern = args[0]
        if not os.path.isabs(pattern):
            pattern = os.path.join(os.path.dirname(os.path.abspath(file)), pattern)
        matches = sorted({path for one in _braces(pattern) for path in glob.glob(one)})
        if not matches:
            # keepalived's plain `include` says nothing either: the file may be optional.
            self.problem(file, line, f"include {args[0]}: no file matches", "warning")
        for path in matches:
            self.read_file(path, (file, line), depth + 1)


def _read_config_file(path: str, size: int) -> bytes | tuple[str, str]:
    """Up to ``size`` bytes of ``path``, or why keepalived would not read it: (level, reason).

    keepalived 2.2.7 reads only regular files without an execute bit ("is not a regular
    non-executable file - skipping", even for the main file, and ``-t`` passes) and skips
    directories. The file is opened without blocking and judged on the open descriptor: a FIFO
    would otherwise block the reader until someone writes, and ``/dev/zero`` never ends.
    """
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            return "warning", "is a directory"
        if not stat.S_ISREG(mode):
            return "error", "is not a regular file"
        if mode & 0o111:
            return "error", "is executable"
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(size)
    finally:
        os.close(fd)


#: Most patterns one brace expansion may give (``{a,b}{c,d}...`` grows exponentially).
MAX_BRACE_PATTERNS = 64


def _braces(pattern: str) -> list[str]:
    """csh-style ``{a,b}`` alternatives of a glob pattern, as glob(3) with GLOB_BRACE expands.

    Python's glob has no braces. Unbalanced braces stay literal, and the expansion stops at
    :data:`MAX_BRACE_PATTERNS`.
    """
    results: list[str] = []
    pending = [pattern]
    steps = 0
    while pending and len(results) < MAX_BRACE_PATTERNS and steps < 16 * MAX_BRACE_PATTERNS:
        steps += 1  # each step may add patterns: bounded by steps, not by results alone
        current = pending.pop(0)
        start = current.find("{")
        depth, end, commas = 0, -1, []
        for index in range(start, len(current)) if start >= 0 else ():
            char = current[index]
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    end = index
                    break
            elif char == "," and depth == 1:
                commas.append(index)
        if start < 0 or end < 0:
            results.append(current)
            continue
        bounds = [start, *commas, end]
        head, tail = current[:start], current[end + 1 :]
        pending.extend(
            head + current[bounds[i] + 1 : bounds[i + 1]] + tail for i in range(len(bounds) - 1)
        )
    return results


def _build(tokens: list[_Token], problems: list[Problem]) -> tuple[Item, ...]:
    """The statement tree of a token stream."""
    # Each level: the finished items, and the words of the statement being read.
    levels: list[tuple[list[Item], list[_Token]]] = [([], [])]
    opened: list[tuple[list[_Token], _Token]] = []  # the statement each open block belongs to
    # Blocks open beyond MAX_DEPTH are only counted: their statements join the deepest kept
    # block, so a file of a million `{` costs a counter, not a million levels.
    too_deep: _Token | None = None  # the first such `{`, while any is open
    too_deep_count = 0

    def finish(level: tuple[list[Item], list[_Token]]) -> None:
        items, words = level
        if words:
            items.append(_item(words, None))
            words.clear()

    for token in tokens:
        items, words = levels[-1]
        if token.word:
            words.append(token)
        elif token.text == END:
            finish(levels[-1])
        elif token.text == OPEN:
            if not words and items and items[-1].block is None:
                # `{` on the line after its statement: reopen that statement.
                last = items.pop()
                head = [_Token(word, True, last.file, last.line) for word in last.words]
            elif words:
                head = list(words)
                words.clear()
            else:
                problems.append(
                    Problem(file=token.file, line=token.line, message="block without a keyword")
                )
                head = [_Token("", True, token.file, token.line)]
            if len(levels) > MAX_DEPTH:
                if not too_deep_count:  # once per excursion, not once per level
                    too_deep = token
                    problems.append(
                        Problem(
                            file=token.file,
                            line=token.line,
                            message=f"blocks nested deeper than {MAX_DEPTH}",
                        )
                    )
                too_deep_count += 1  # its head is dropped, its statements flattened
                continue
            opened.append((head, token))
            levels.append(([], []))
        else:  # CLOSE
            if too_deep_count:
                finish(levels[-1])
                too_deep_count -= 1
                continue
            if len(levels) == 1:
                problems.append(Problem(file=token.file, line=token.line, message="extra '}'"))
                continue
            finish(levels[-1])
            inner, _ = levels.pop()
            head, _open = opened.pop()
            levels[-1][0].append(_item(head, tuple(inner)))
    if too_deep is not None and too_deep_count:
        problems.append(
            Problem(
                file=too_deep.file,
                line=too_deep.line,
                message=f"{too_deep_count} '{{' never closed",
            )
        )
    while len(levels) > 1:
        finish(levels[-1])
        inner, _ = levels.pop()
        head, open_token = opened.pop()
        problems.append(
            Problem(file=open_token.file, line=open_token.line, message="'{' never closed")
        )
        levels[-1][0].append(_item(head, tuple(inner)))
    finish(levels[0])
    return tuple(levels[0][0])


def _item(words: list[_Token], block: tuple[Item, ...] | None) -> Item:
    return Item(
        words=tuple(word.text for word in words),
        block=block,
        file=words[0].file,
        line=words[0].line,
    )


def parse(text: str, file: str = "<text>", *, trusted: bool = True) -> Document:
    """Read configuration text; includes are relative to ``file``'s directory.

    Args:
        text: The configuration.
        file: The name it is reported under.
        trusted: Apply the trust rule (:mod:`kakit.core.trust`) to included files as root.
    """
    reader = _Reader(trusted)
    reader.read_text(text, file, 0)
    return reader.document()


def load(path: str = DEFAULT_PATH, *, trusted: bool = True) -> Document:
    """Read ``path`` and every file it includes.

    Running as root, a file that someone other than root could change is not read (a
    :class:`Problem` says why): what it says would reach alerts, and later lint verdicts.

    Args:
        path: The configuration file.
        trusted: Apply the trust rule (off for tests and for reading as a user).
    """
    reader = _Reader(trusted)
    reader.read_file(path, None, 0)
    return reader.document()


#: Top-level keywords only a keepalived.conf starts a block with.
KEEPALIVED_BLOCKS = (
    "global_defs",
    "vrrp_instance",
    "vrrp_script",
    "vrrp_sync_group",
    "virtual_server",
    "virtual_server_group",
    "track_file",
    "bfd_instance",
)


def looks_like_keepalived(path: str) -> bool:
    """Whether the file reads as a keepalived.conf: a top-level block keepalived knows.

    Used to tell a user who passed keepalived.conf where kakit.yaml belongs what to run
    instead of "invalid YAML". Only the first 64 KiB are read; any read error, and anything
    keepalived would not read (a FIFO, an executable file), is "no".
    """
    try:
        data = _read_config_file(path, 64 << 10)  # never blocks on a FIFO
    except OSError:
        return False
    if isinstance(data, tuple):
        return False
    document = parse(data.decode("utf-8", "replace"), path, trusted=False)
    return any(
        item.keyword in KEEPALIVED_BLOCKS and item.block is not None for item in document.items
    )


# -- what alerts use ------------------------------------------------------------------------


@frozen
class VrrpInstance:
    """One ``vrrp_instance``: its name, addresses and tracked scripts.

    Attributes:
        name: The instance name.
        addresses: ``virtual_ipaddress`` then ``virtual_ipaddress_excluded`` entries, each the
            address as written (``10.0.0.1/24``), without ``dev``/``label`` options.
        track_scripts: Names in its ``track_script`` block.
        where: ``file:line`` of the ``vrrp_instance`` statement.
        interface: Its ``interface`` ("" when not given).
        vrid: Its ``virtual_router_id`` as written ("" when not given).
        track_files: Names in its ``track_file`` block.
    """

    name: str
    addresses: tuple[str, ...]
    track_scripts: tuple[str, ...]
    where: str
    interface: str = ""
    vrid: str = ""
    track_files: tuple[str, ...] = ()


def vrrp_instances(document: Document) -> dict[str, VrrpInstance]:
    """Every ``vrrp_instance`` with a name, by name (the first one wins on duplicates)."""
    found: dict[str, VrrpInstance] = {}
    for item in document.find("vrrp_instance"):
        if not item.args or item.args[0] in found:
            continue
        addresses = [
            entry.keyword
            for key in ("virtual_ipaddress", "virtual_ipaddress_excluded")
            for block in item.children(key)
            for entry in block.children()
        ]
        scripts, files = (
            [entry.keyword for block in item.children(key) for entry in block.children()]
            for key in ("track_script", "track_file")
        )
        first = {
            key: next((child.args[0] for child in item.children(key) if child.args), "")
            for key in ("interface", "virtual_router_id")
        }
        found[item.args[0]] = VrrpInstance(
            name=item.args[0],
            addresses=tuple(addresses),
            track_scripts=tuple(scripts),
            where=item.where,
            interface=first["interface"],
            vrid=first["virtual_router_id"],
            track_files=tuple(files),
        )
    return found


def vrrp_scripts(document: Document) -> dict[str, tuple[str, ...]]:
    """Every ``vrrp_script``'s command line, by script name (split on spaces, as keepalived does)."""
    found: dict[str, tuple[str, ...]] = {}
    for item in document.find("vrrp_script"):
        if not item.args or item.args[0] in found:
            continue
        for entry in item.children("script"):
            found[item.args[0]] = tuple(" ".join(entry.args).split())
    return found


def kacheck_target(argv: tuple[str, ...]) -> str | None:
    """The check a script line runs, when it is ``kacheck [options] NAME [PATH]``; else None."""
    for index, word in enumerate(argv):
        if os.path.basename(word) != "kacheck":
            continue
        rest = list(argv[index + 1 :])
        while rest:
            word = rest.pop(0)
            if word in ("-c", "--config", "--track-file", "--interval", "--fail-value", "--cycles"):
                if rest:
                    rest.pop(0)
            elif not word.startswith("-") or word == "-":
                return word
        return None
    return None


def instances_tracking(document: Document, check: str) -> list[VrrpInstance]:
    """Instances whose ``track_script`` names a ``vrrp_script`` that runs ``kacheck check``."""
    scripts = {
        name for name, argv in vrrp_scripts(document).items() if kacheck_target(argv) == check
    }
    return [
        instance
        for instance in vrrp_instances(document).values()
        if scripts.intersection(instance.track_scripts)
    ]


def instances_tracking_file(document: Document, path: str) -> list[VrrpInstance]:
    """Instances whose ``track_file`` block names a ``track_file`` (or the older
    ``vrrp_track_file``) that reads ``path``."""
    names = {
        item.args[0]
        for keyword in ("track_file", "vrrp_track_file")
        for item in document.find(keyword)
        if item.args
        for entry in item.children("file")
        if entry.args and os.path.normpath(entry.args[0]) == os.path.normpath(path)
    }
    return [
        instance
        for instance in vrrp_instances(document).values()
        if names.intersection(instance.track_files)
    ]


def addresses(document: Document, *, instance: str = "", check: str = "") -> tuple[str, ...]:
    """The virtual addresses an alert names: of ``instance``, or of the instances tracking ``check``.

    A check that no instance tracks through a ``vrrp_script`` (``kacheck --watch`` feeding a
    ``track_file``, or a script line that is not ``kacheck ... NAME``) gets every address of
    the file: the node's addresses are what an operator needs first.
    """
    instances = vrrp_instances(document)
    if instance:
        found = instances.get(instance)
        return found.addresses if found is not None else ()
    tracking = instances_tracking(document, check) or list(instances.values())
    return tuple(dict.fromkeys(address for item in tracking for address in item.addresses))
