"""Specification of the keepalived.conf reader: the tree, its locations, includes and limits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kakit.keepalived import conf
from kakit.keepalived.conf import Item, addresses, instances_tracking, kacheck_target, parse


def shape(items: tuple[Item, ...] | None) -> list[object]:
    """The tree as nested lists: words, then the block's shape when there is one."""
    result: list[object] = []
    for item in items or ():
        result.append(list(item.words) if item.block is None else [*item.words, shape(item.block)])
    return result


GRAMMAR = [
    ("plain statement", "router_id lb1\n", [["router_id", "lb1"]]),
    ("hash comment", "router_id lb1 # the name\n", [["router_id", "lb1"]]),
    ("bang comment", "! a whole line\nrouter_id lb1\n", [["router_id", "lb1"]]),
    ("escaped comment sign", "word a\\#b\n", [["word", "a#b"]]),
    ("comment sign in quotes", 'script "/bin/x #1 !2"\n', [["script", "/bin/x #1 !2"]]),
    (
        "quoted string is one word",
        'script "/usr/bin/kacheck nginx"\n',
        [["script", "/usr/bin/kacheck nginx"]],
    ),
    (
        "block on one line",
        "virtual_ipaddress { 10.0.0.1/24 }\n",
        [["virtual_ipaddress", [["10.0.0.1/24"]]]],
    ),
    (
        "brace on its own line",
        "vrrp_instance VI_1\n{\n  state MASTER\n}\n",
        [["vrrp_instance", "VI_1", [["state", "MASTER"]]]],
    ),
    (
        "nested blocks",
        "a {\n b {\n  c 1\n }\n d\n}\n",
        [["a", [["b", [["c", "1"]]], ["d"]]]],
    ),
    (
        "a final backslash joins nothing and sticks to its word",
        "router_id \\\n  lb1\n",
        [["router_id\\"], ["lb1"]],
    ),
    ("comment sign inside a word", "10.0.0.2/24!x\n", [["10.0.0.2/24"]]),
    ("form feed is not a line break", "a\x0cb\n", [["a", "b"]]),
    ("closing brace after words", "a {\n b c }\n", [["a", [["b", "c"]]]]),
    ("braces in quotes are words", 'script "echo {x}"\n', [["script", "echo {x}"]]),
    ("empty file", "", []),
]


class TestGrammar:
    """keepalived's grammar, table-driven."""

    @pytest.mark.parametrize(
        ("text", "expected"), [case[1:] for case in GRAMMAR], ids=[case[0] for case in GRAMMAR]
    )
    def test_tree(self, text: str, expected: list[object]) -> None:
        """The text reads as the expected tree, with no problem."""
        document = parse(text)
        assert shape(document.items) == expected
        assert document.problems == ()

    def test_every_item_knows_its_line(self) -> None:
        """Each statement carries the file and line it was written on."""
        document = parse("global_defs {\n  router_id lb1\n}\n\nvrrp_instance VI_1 {\n}\n", "k.conf")
        (defs, instance) = document.items
        assert (defs.where, defs.children()[0].where, instance.where) == (
            "k.conf:1",
            "k.conf:2",
            "k.conf:5",
        )

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("a {\n b\n", "k.conf:1: '{' never closed"),
            ("a\n}\n", "k.conf:2: extra '}'"),
            ('script "unterminated\n', "k.conf:1: unterminated quote"),
            ("include\n", "k.conf:1: include takes one file name or pattern"),
        ],
    )
    def test_problems_are_located(self, text: str, problem: str) -> None:
        """What keepalived would complain about is a problem at file:line, never an exception."""
        assert [str(found) for found in parse(text, "k.conf").problems] == [problem]

    def test_depth_is_bounded(self) -> None:
        """Blocks nested past the limit are kept flat and reported once, at the first too deep."""
        depth = conf.MAX_DEPTH + 3
        document = parse("a {\n" * depth + "leaf\n" + "}\n" * depth, "k.conf")
        assert [str(problem) for problem in document.problems] == [
            f"k.conf:{conf.MAX_DEPTH + 1}: blocks nested deeper than {conf.MAX_DEPTH}"
        ]

        def deepest(items: tuple[Item, ...] | None, level: int = 0) -> int:
            return max(
                (deepest(item.block, level + 1) for item in items or () if item.block),
                default=level,
            )

        assert deepest(document.items) == conf.MAX_DEPTH

    def test_ten_thousand_levels_read_quickly(self) -> None:
        """10,000 nested blocks are one problem, and a million unclosed `{` a bounded list."""
        deep = parse("a {\n" * 10_000 + "}\n" * 10_000)
        assert [problem.message for problem in deep.problems] == [
            f"blocks nested deeper than {conf.MAX_DEPTH}"
        ]
        problems = parse("{" * 1_000_000).problems
        assert len(problems) == conf.MAX_PROBLEMS + 1
        assert problems[-1].message.endswith("more problems not listed")


class TestIncludes:
    """`include` reads other files where it stands, relative to the including file."""

    def test_relative_glob_in_sorted_order(self, tmp_path: Path) -> None:
        """A relative pattern is read from the including file's directory, files in sorted order."""
        (tmp_path / "conf.d").mkdir()
        (tmp_path / "conf.d" / "b.conf").write_text("vrrp_instance B {\n}\n")
        (tmp_path / "conf.d" / "a.conf").write_text("vrrp_instance A {\n}\n")
        main = tmp_path / "keepalived.conf"
        main.write_text("global_defs {\n}\ninclude conf.d/*.conf\n")
        document = conf.load(str(main), trusted=False)
        assert [item.words for item in document.items] == [
            ("global_defs",),
            ("vrrp_instance", "A"),
            ("vrrp_instance", "B"),
        ]
        assert document.items[1].where == f"{tmp_path}/conf.d/a.conf:1"

    def test_include_inside_a_block(self, tmp_path: Path) -> None:
        """An include inside a block adds to that block."""
        (tmp_path / "vips").write_text("10.0.0.1/24\n10.0.0.2/24\n")
        main = tmp_path / "keepalived.conf"
        main.write_text("vrrp_instance VI_1 {\n virtual_ipaddress {\n  include vips\n }\n}\n")
        document = conf.load(str(main), trusted=False)
        assert addresses(document, instance="VI_1") == ("10.0.0.1/24", "10.0.0.2/24")

    def test_self_include_stops(self, tmp_path: Path) -> None:
        """A file that includes itself is read once, and the loop reported at the include."""
        main = tmp_path / "keepalived.conf"
        main.write_text("include keepalived.conf\nrouter_id x\n")
        document = conf.load(str(main), trusted=False)
        assert document.files == (str(main),)
        assert [str(problem) for problem in document.problems] == [
            f"{main}:1: include loop: {main} includes itself"
        ]

    def test_include_loop_through_another_file(self, tmp_path: Path) -> None:
        """a.conf including b.conf including a.conf: each read once, the loop named."""
        (tmp_path / "a.conf").write_text("include b.conf\nrouter_id a\n")
        (tmp_path / "b.conf").write_text("include a.conf\nrouter_id b\n")
        document = conf.load(str(tmp_path / "a.conf"), trusted=False)
        assert [item.words for item in document.items] == [("router_id", "b"), ("router_id", "a")]
        assert [problem.message for problem in document.problems] == [
            f"include loop: {tmp_path}/a.conf includes itself"
        ]

    def test_deep_include_chain_stops(self, tmp_path: Path) -> None:
        """A chain of distinct includes deeper than the limit is cut and reported."""
        for number in range(conf.MAX_INCLUDE_DEPTH + 2):
            (tmp_path / f"{number}.conf").write_text(f"include {number + 1}.conf\n")
        document = conf.load(str(tmp_path / "0.conf"), trusted=False)
        assert len(document.files) == conf.MAX_INCLUDE_DEPTH + 1
        assert any("nested deeper" in problem.message for problem in document.problems)

    @pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
    @pytest.mark.timeout(10)
    def test_include_of_a_fifo_or_device_is_not_read(self, tmp_path: Path, target: str) -> None:
        """An include matching a FIFO or a symlink to /dev/zero is reported, never waited on."""
        if target == "fifo":
            os.mkfifo(tmp_path / "x.inc")
        else:
            (tmp_path / "x.inc").symlink_to(target)
        main = tmp_path / "keepalived.conf"
        main.write_text("include x.inc\n")
        (problem,) = conf.load(str(main), trusted=False).problems
        assert (
            str(problem) == f"{main}:1: {tmp_path}/x.inc is not a regular file: keepalived skips it"
        )

    def test_included_directory_is_a_warning(self, tmp_path: Path) -> None:
        """A directory a pattern matches is skipped with a warning, as keepalived does."""
        (tmp_path / "conf.d").mkdir()
        main = tmp_path / "keepalived.conf"
        main.write_text("include conf.d\n")
        (problem,) = conf.load(str(main), trusted=False).problems
        assert (problem.level, problem.message) == (
            "warning",
            f"{tmp_path}/conf.d is a directory: keepalived skips it",
        )

    def test_executable_file_is_not_read(self, tmp_path: Path) -> None:
        """keepalived 2.2.7 skips an executable configuration file: so does the reader."""
        (tmp_path / "vips").write_text("10.0.0.9/24\n")
        (tmp_path / "vips").chmod(0o755)
        main = tmp_path / "keepalived.conf"
        main.write_text("vrrp_instance VI_1 {\n virtual_ipaddress {\n  include vips\n }\n}\n")
        document = conf.load(str(main), trusted=False)
        assert addresses(document, instance="VI_1") == ()
        assert [str(problem) for problem in document.problems] == [
            f"{main}:3: {tmp_path}/vips is executable: keepalived skips it"
        ]

    def test_missing_include_is_a_problem(self, tmp_path: Path) -> None:
        """An include that matches nothing is reported at its line."""
        main = tmp_path / "keepalived.conf"
        main.write_text("\ninclude /nonexistent/*.conf\n")
        (problem,) = conf.load(str(main), trusted=False).problems
        assert str(problem) == f"{main}:2: include /nonexistent/*.conf: no file matches"

    def test_missing_file_is_a_problem(self, tmp_path: Path) -> None:
        """A configuration that cannot be read is an empty tree with the reason."""
        document = conf.load(str(tmp_path / "none.conf"), trusted=False)
        assert document.items == () and "No such file" in document.problems[0].message

    @pytest.mark.skipif(os.geteuid() != 0, reason="the trust rule applies to root")
    def test_untrusted_include_is_not_read_as_root(self, tmp_path: Path) -> None:
        """As root, an included file another user could change is skipped with the reason."""
        (tmp_path / "vips").write_text("10.0.0.9/24\n")
        os.chown(tmp_path / "vips", 65534, 65534)
        main = tmp_path / "keepalived.conf"
        main.write_text("vrrp_instance VI_1 {\n virtual_ipaddress {\n  include vips\n }\n}\n")
        document = conf.load(str(main))
        assert addresses(document, instance="VI_1") == ()
        assert "not read (untrusted)" in document.problems[0].message


LAB_CONF = """\
vrrp_script chk_nginx {
    script "/usr/local/bin/kacheck -c /etc/kakit/kakit.yaml nginx"
    interval 1
}
vrrp_script chk_gw { script "/usr/local/bin/kacheck gateway" }
vrrp_instance VI_1 {
    virtual_ipaddress {
        10.213.7.100/24 dev eth0 label eth0:vip
    }
    virtual_ipaddress_excluded {
        fd00::100/64
    }
    track_script {
        chk_nginx weight -20
    }
}
vrrp_instance VI_2 {
    virtual_ipaddress {
        10.213.7.200/24
    }
    track_script {
        chk_gw
    }
}
"""


class TestWhatAlertsUse:
    """The addresses of an instance, and of the instances tracking a check."""

    def test_instance_addresses_include_excluded_ones(self) -> None:
        """Both address blocks count, options after the address are dropped."""
        assert addresses(parse(LAB_CONF), instance="VI_1") == ("10.213.7.100/24", "fd00::100/64")

    def test_check_addresses_come_from_tracking_instances(self) -> None:
        """A check's addresses are those of the instances whose track script runs it."""
        document = parse(LAB_CONF)
        assert [item.name for item in instances_tracking(document, "gateway")] == ["VI_2"]
        assert addresses(document, check="gateway") == ("10.213.7.200/24",)

    def test_untracked_check_gets_every_address(self) -> None:
        """A check no instance tracks (watch mode) gets every address of the node."""
        assert addresses(parse(LAB_CONF), check="httpd") == (
            "10.213.7.100/24",
            "fd00::100/64",
            "10.213.7.200/24",
        )

    @pytest.mark.parametrize(
        ("argv", "check"),
        [
            ("/usr/local/bin/kacheck nginx", "nginx"),
            ("/usr/local/bin/kacheck -c /etc/kakit/kakit.yaml -v nginx", "nginx"),
            ("/usr/local/bin/kacheck --config=/x.yaml flag /etc/keepalived/down", "flag"),
            ("/usr/bin/pidof nginx", None),
            ("/usr/local/bin/kacheck -v", None),
        ],
    )
    def test_kacheck_target(self, argv: str, check: str | None) -> None:
        """The check a script line runs is its first positional word after kacheck's options."""
        assert kacheck_target(tuple(argv.split())) == check


WORDS = [
    "{",
    "}",
    '"',
    "#",
    "!",
    "\\",
    "\n",
    " ",
    "include",
    "vrrp_instance",
    "virtual_ipaddress",
    "x",
    "\t",
]


class TestFuzz:
    """No input crashes the reader."""

    @settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=8)), max_size=80))
    def test_any_text_reads(
        self, tmp_path_factory: pytest.TempPathFactory, pieces: list[str]
    ) -> None:
        """Any text gives a tree and problems; the extractors work on whatever came out."""
        text = "".join(pieces)
        directory = tmp_path_factory.mktemp("fuzz")
        path = directory / "keepalived.conf"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        document = conf.load(str(path), trusted=False)
        for problem in document.problems:
            assert problem.line >= 0 and str(problem)
        addresses(document, check="x")
        addresses(document, instance="x")


class TestAgreesWithKeepalived:
    """A file whose addresses keepalived 2.2.7 was seen to configure reads the same here."""

    def test_same_addresses_as_keepalived(self, tmp_path: Path) -> None:
        """One-line block, brace on the next line, comment inside a word, relative glob include.

        keepalived 2.2.7 (`keepalived -n -l -D -d`, in a namespace, started from another
        directory) configured 10.213.99.1, .2 and .3 from these two files.
        """
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "vips.conf").write_text("10.213.99.3/24 # comment\n")
        main = tmp_path / "keepalived.conf"
        main.write_text(
            "vrrp_instance VI_1 { # comment\n"
            "    interface eth0\n"
            "    virtual_ipaddress { 10.213.99.1/24 }\n"
            "    virtual_ipaddress_excluded\n"
            "    {\n"
            "        10.213.99.2/24!x\n"
            "        include sub/*.conf\n"
            "    }\n"
            "}\n"
        )
        document = conf.load(str(main), trusted=False)
        assert document.problems == ()
        assert addresses(document, instance="VI_1") == (
            "10.213.99.1/24",
            "10.213.99.2/24",
            "10.213.99.3/24",
        )


class TestBraceIncludes:
    """An include pattern's ``{a,b}`` is a choice of files, as glob(3) with GLOB_BRACE reads it."""

    def test_brace_choice(self, tmp_path: Path) -> None:
        """`include {a,b}.conf` reads a.conf and b.conf, and makes no block of the braces."""
        (tmp_path / "a.conf").write_text("router_id a\n")
        (tmp_path / "b.conf").write_text("router_id b\n")
        (tmp_path / "c.conf").write_text("router_id c\n")
        main = tmp_path / "keepalived.conf"
        main.write_text("include {a,b}.conf\n")
        document = conf.load(str(main), trusted=False)
        assert document.problems == ()
        assert [item.words for item in document.items] == [("router_id", "a"), ("router_id", "b")]

    def test_nothing_matching_is_a_warning(self, tmp_path: Path) -> None:
        """keepalived's plain include ignores a pattern that matches nothing: a warning here."""
        main = tmp_path / "keepalived.conf"
        main.write_text("include nothing-*.conf\n")
        (problem,) = conf.load(str(main), trusted=False).problems
        assert problem.level == "warning"


class TestLookalikeBlanks:
    """keepalived splits on ASCII blanks only: a no-break space is part of a word."""

    def test_no_break_space_is_a_word_character_and_a_problem(self) -> None:
        """`\u00a0priority 100` reads as keyword `\u00a0priority`, and the line is reported."""
        document = parse("\u00a0priority 100\n")
        assert document.items[0].keyword == "\u00a0priority"
        (problem,) = document.problems
        assert (problem.line, problem.level) == (1, "error")
        assert "U+00A0 (no-break space)" in problem.message

    def test_inside_quotes_it_is_text(self) -> None:
        """In a quoted string the character is text, as keepalived keeps it."""
        assert parse('script "/bin/x\u00a0y"\n').problems == ()
