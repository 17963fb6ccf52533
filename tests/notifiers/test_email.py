"""The ``email`` channel against aiosmtpd on 127.0.0.1: plain, STARTTLS, implicit TLS, AUTH."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kakit.exceptions import DeliveryError, NotifierTimeout
from kakit.notifiers.email import EmailNotifier
from tests.fakes.endless import endless_smtp
from tests.fakes.smtp import FakeSmtp
from tests.notifiers.runner import (
    Case,
    Ctx,
    deliver,
    fail,
    invalid,
    make,
    ok,
    params,
    retry,
    run_case,
    sample,
    timeout,
)

PASSWORD = "s3cr3t-Pa55word!"
USER = "kakit"
AUTH: dict[str, Any] = {"username": USER, "password": PASSWORD}


def smtp(mode: str = "plain", **server: Any) -> Callable[[Ctx], FakeSmtp]:
    """The row's own aiosmtpd server (``users=``, ``refuse=``)."""
    return lambda c: c.make_smtp(mode, **server)


def mail(ca: bool = False, **extra: Any) -> Callable[[Ctx], dict[str, Any]]:
    """Options pointing at the row's server (trusting its certificate with ``ca``), ``extra``."""

    def options(c: Ctx) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "host": c.server.host,
            "port": c.server.port,
            "from": "kakit <kakit@example.com>",
            "to": ["oncall@example.com"],
            "timeout": 5,
        }
        if ca:
            opts["ca_file"] = str(c.tls_files.cert)
        return {**opts, **extra}

    return options


def elsewhere(port: Callable[[Ctx], int], **extra: Any) -> Callable[[Ctx], dict[str, Any]]:
    """Options pointing at ``port(ctx)`` on 127.0.0.1 (nothing, or something silent)."""
    return lambda c: {
        "host": "127.0.0.1",
        "port": port(c),
        "from": "a@b.cn",
        "to": ["c@d.cn"],
        **extra,
    }


def offline(**extra: Any) -> Callable[[Ctx], dict[str, Any]]:
    """Options for a server that is never contacted (the options are refused first)."""
    return lambda c: {"host": "smtp.example.com", "from": "a@b.cn", "to": ["c@d.cn"], **extra}


def closed_port(c: Ctx) -> int:
    """A port where nothing listens."""
    return int(c.closed_url().rsplit(":", 1)[1])


def full_mail(c: Ctx, _: object) -> None:
    """The server got From, To, Subject, Date, Message-ID and the body, over TLS, logged in."""
    (received,) = c.server.mails
    assert received.tls and received.login == USER
    assert received.mail_from == "kakit@example.com"
    assert received.rcpt_tos == ["oncall@example.com", "ops@example.com"]
    message = received.message
    assert message["From"] == "kakit <kakit@example.com>"
    assert message["To"] == "oncall@example.com, ops@example.com"
    assert message["Subject"] == "lb1 VI_1 BACKUP -> MASTER"
    assert message["Date"] and message["Message-ID"].endswith("@example.com>")
    assert message.get_content().replace("\r\n", "\n") == "状态: MASTER\n"


def over_tls_as_user(c: Ctx, _: object) -> None:
    """The mail arrived over TLS after AUTH."""
    (received,) = c.server.mails
    assert received.tls and received.login == USER


def in_clear_anonymous(c: Ctx, _: object) -> None:
    """The mail arrived without TLS and without AUTH."""
    (received,) = c.server.mails
    assert not received.tls and received.login is None


def only_oncall(c: Ctx, _: object) -> None:
    """The accepted recipient got the mail."""
    (received,) = c.server.mails
    assert received.rcpt_tos == ["oncall@example.com"]


def nothing_delivered(c: Ctx, _: object) -> None:
    """The server accepted no mail."""
    assert c.server.mails == []


CASES = [
    Case(
        "starttls-auth",
        mail(ca=True, starttls=True, **AUTH, to=["oncall@example.com", "ops@example.com"]),
        ok("accepted by 127.0.0.1:"),
        server=smtp("starttls", users={USER: PASSWORD}),
        message=sample(title="lb1 VI_1 BACKUP -> MASTER", text="状态: MASTER\n"),
        check=full_mail,
    ),
    Case(
        "implicit-tls-auth",
        mail(ca=True, tls=True, **AUTH),
        ok("accepted"),
        server=smtp("tls", users={USER: PASSWORD}),
        check=over_tls_as_user,
    ),
    Case("plain", mail(), ok("accepted"), server=smtp(), check=in_clear_anonymous),
    Case(
        "password-file",
        lambda c: (
            mail(ca=True, starttls=True, username=USER)(c)
            | {"password_file": c.file("smtp.pass", PASSWORD + "\n")}
        ),
        ok("accepted"),
        server=smtp("starttls", users={USER: PASSWORD}),
        check=over_tls_as_user,
    ),
    Case(
        "one-recipient-refused",
        mail(to=["oncall@example.com", "nobody@example.com"]),
        ok("refused recipients: nobody@example.com (550"),
        server=smtp(refuse=("nobody@example.com",)),
        check=only_oncall,
    ),
    Case(
        "wrong-password",
        mail(ca=True, starttls=True, username=USER, password="not-" + PASSWORD),
        fail("refused the login: 535"),
        server=smtp("starttls", users={USER: PASSWORD}),
        check=nothing_delivered,
        secrets=[PASSWORD],
    ),
    Case(
        "every-recipient-refused",
        mail(ca=True, starttls=True, **AUTH, to=["a@example.com", "b@example.com"]),
        fail("refused every recipient: a@example.com (550"),
        server=smtp("starttls", users={USER: PASSWORD}, refuse=("a@example.com", "b@example.com")),
    ),
    Case(
        "closed-port",
        elsewhere(closed_port, **AUTH),
        retry("cannot talk to 127.0.0.1:"),
    ),
    Case(
        "silent-server",
        elsewhere(lambda c: c.silent_port(), timeout=0.5),
        timeout("127.0.0.1:", "did not"),
    ),
    Case(
        "untrusted-certificate",
        mail(tls=True, **AUTH),
        retry("CERTIFICATE_VERIFY_FAILED"),
        server=smtp("tls", users={USER: PASSWORD}),
        check=nothing_delivered,
    ),
    Case(
        "ca-file-missing",
        lambda c: mail(tls=True)(c) | {"ca_file": c.missing("absent-ca.pem")},
        fail("cannot read ca_file", "absent-ca.pem"),
        server=smtp("tls"),
    ),
    Case(
        "starttls-not-offered",
        mail(starttls=True),
        fail("STARTTLS extension not supported"),
        server=smtp(),
    ),
    Case("starttls-required-by-server", mail(), fail("530"), server=smtp("starttls")),
    Case(
        "starttls-and-tls", offline(starttls=True, tls=True), invalid("starttls or tls, not both")
    ),
    Case("no-recipients", offline(to=[]), invalid("non-empty list of mail addresses")),
    Case("bad-recipient", offline(to=["c@d.cn", "oncall"]), invalid("to[1]", "mail address")),
    Case("username-alone", offline(username="u"), invalid("username together with password")),
]


class TestEmailOptions:
    """Values derived from the channel's options."""

    @pytest.mark.parametrize(
        ("extra", "port"),
        [({}, 25), ({"starttls": True}, 587), ({"tls": True}, 465), ({"port": 2525}, 2525)],
    )
    def test_default_ports(self, extra: dict[str, Any], port: int) -> None:
        """25 plain, 587 with STARTTLS, 465 with implicit TLS, unless a port is given."""
        notifier = make("email", {"host": "h", "from": "a@b.cn", "to": "c@d.cn", **extra})
        assert isinstance(notifier, EmailNotifier)
        assert notifier.options.effective_port == port

    def test_from_key(self) -> None:
        """The YAML key is ``from``; code reads it as ``sender``."""
        notifier = make("email", {"host": "h", "from": "kakit <a@b.cn>", "to": ["c@d.cn"]})
        assert isinstance(notifier, EmailNotifier)
        assert notifier.options.sender == "kakit <a@b.cn>"


class TestEmailNotifier:
    """Delivery through SMTP."""

    @pytest.mark.parametrize("case", params(CASES))
    def test_table(self, ctx: Ctx, case: Case) -> None:
        """Each row ends as it says, and its errors never show the password."""
        run_case("email", case, ctx)

    def test_password_masked(self) -> None:
        """The password is a secret field and its repr shows no value."""
        notifier = make("email", {"host": "h", "from": "a@b.cn", "to": ["c@d.cn"], **AUTH})
        assert PASSWORD not in repr(notifier.options)

    def test_endless_reply_is_not_read(self) -> None:
        """A server whose greeting never ends: aiosmtplib gives up after 32 KiB of one reply
        (its MAX_RESPONSE_LENGTH), so the send fails without reading on until the timeout."""
        with endless_smtp() as server:
            notifier = make(
                "email",
                {"host": "127.0.0.1", "port": server.port, "from": "a@b.cn", "to": ["c@d.cn"]},
            )
            with pytest.raises(DeliveryError) as caught:
                deliver(notifier)
            assert not isinstance(caught.value, NotifierTimeout)
            assert server.finished.wait(10), "the client never closed the connection"
        assert server.written < 16 << 20

    def test_message_id_from_the_key(self) -> None:
        """A message with a key is mailed with Message-ID <key@sender's domain> on every send;
        one without gets a fresh id each time."""
        notifier = make("email", {"host": "h", "from": "kakit <a@b.cn>", "to": ["c@d.cn"]})
        assert isinstance(notifier, EmailNotifier)
        keyed = sample(key="kakit-lb1-42-1795312160000")
        assert notifier.mail(keyed)["Message-ID"] == "<kakit-lb1-42-1795312160000@b.cn>"
        assert notifier.mail(sample())["Message-ID"] != notifier.mail(sample())["Message-ID"]
