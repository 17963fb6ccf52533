"""The ``email`` channel against aiosmtpd on 127.0.0.1: plain, STARTTLS, implicit TLS, AUTH."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kakit.exceptions import ConfigError
from kakit.notifiers.base import PermanentError, RetryableError
from kakit.notifiers.email import EmailNotifier
from tests.fakes.smtp import FakeSmtp, SilentServer, free_port
from tests.fakes.tls import TlsFiles
from tests.notifiers.runner import deliver, make, sample

PASSWORD = "s3cr3t-Pa55word!"
USER = "kakit"


def options(server: FakeSmtp, tls_files: TlsFiles | None = None, **extra: Any) -> dict[str, Any]:
    """Channel options pointing at ``server``."""
    opts: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "from": "kakit <kakit@example.com>",
        "to": ["oncall@example.com"],
        "timeout": 5,
    }
    if tls_files is not None:
        opts["ca_file"] = str(tls_files.cert)
    opts.update(extra)
    return opts


class TestEmailOptions:
    """Validation of the channel's options at configuration time."""

    def test_starttls_and_tls_exclusive(self) -> None:
        """starttls and tls together are a configuration error."""
        with pytest.raises(ConfigError, match="starttls or tls, not both"):
            make(
                "email",
                {"host": "h", "from": "a@b.cn", "to": ["c@d.cn"], "starttls": True, "tls": True},
            )

    def test_to_must_not_be_empty(self) -> None:
        """An empty recipient list is refused."""
        with pytest.raises(ConfigError, match="non-empty list of mail addresses"):
            make("email", {"host": "h", "from": "a@b.cn", "to": []})

    def test_bad_address(self) -> None:
        """A recipient that is not an address is refused with its path."""
        with pytest.raises(ConfigError, match=r"to\[1\].*mail address"):
            make("email", {"host": "h", "from": "a@b.cn", "to": ["c@d.cn", "oncall"]})

    def test_username_needs_password(self) -> None:
        """A username without a password (or the reverse) is refused."""
        with pytest.raises(ConfigError, match="username together with password"):
            make("email", {"host": "h", "from": "a@b.cn", "to": ["c@d.cn"], "username": "u"})

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

    def test_password_masked(self) -> None:
        """The password is a secret field and its repr shows no value."""
        notifier = make(
            "email",
            {
                "host": "h",
                "from": "a@b.cn",
                "to": ["c@d.cn"],
                "username": "u",
                "password": PASSWORD,
            },
        )
        assert PASSWORD not in repr(notifier.options)


class TestEmailNotifier:
    """Delivery through SMTP."""

    def test_starttls_auth_delivers(
        self, make_smtp: Callable[..., FakeSmtp], tls_files: TlsFiles
    ) -> None:
        """STARTTLS + AUTH delivers: the server got From, To, Subject, Date, Message-ID, body."""
        server = make_smtp("starttls", users={USER: PASSWORD})
        notifier = make(
            "email",
            options(
                server,
                tls_files,
                starttls=True,
                username=USER,
                password=PASSWORD,
                to=["oncall@example.com", "ops@example.com"],
            ),
        )
        answer = deliver(notifier, sample(title="lb1 VI_1 BACKUP -> MASTER", text="状态: MASTER\n"))
        assert answer.startswith(f"accepted by 127.0.0.1:{server.port}")
        (mail,) = server.mails
        assert mail.tls and mail.login == USER
        assert mail.mail_from == "kakit@example.com"
        assert mail.rcpt_tos == ["oncall@example.com", "ops@example.com"]
        message = mail.message
        assert message["From"] == "kakit <kakit@example.com>"
        assert message["To"] == "oncall@example.com, ops@example.com"
        assert message["Subject"] == "lb1 VI_1 BACKUP -> MASTER"
        assert message["Date"] and message["Message-ID"].endswith("@example.com>")
        assert message.get_content().replace("\r\n", "\n") == "状态: MASTER\n"

    def test_implicit_tls_delivers(
        self, make_smtp: Callable[..., FakeSmtp], tls_files: TlsFiles
    ) -> None:
        """Implicit TLS (SMTPS) with AUTH delivers."""
        server = make_smtp("tls", users={USER: PASSWORD})
        notifier = make(
            "email", options(server, tls_files, tls=True, username=USER, password=PASSWORD)
        )
        deliver(notifier)
        (mail,) = server.mails
        assert mail.tls and mail.login == USER

    def test_plain_delivers(self, make_smtp: Callable[..., FakeSmtp]) -> None:
        """A plain server without AUTH delivers (keepalived's smtp_alert case)."""
        server = make_smtp("plain")
        deliver(make("email", options(server)))
        (mail,) = server.mails
        assert not mail.tls and mail.login is None

    def test_password_file(
        self, make_smtp: Callable[..., FakeSmtp], tls_files: TlsFiles, tmp_path: Path
    ) -> None:
        """password_file is read at send time."""
        path = tmp_path / "smtp.pass"
        path.write_text(PASSWORD + "\n")
        server = make_smtp("starttls", users={USER: PASSWORD})
        notifier = make(
            "email",
            options(server, tls_files, starttls=True, username=USER, password_file=str(path)),
        )
        deliver(notifier)
        assert server.mails[0].login == USER

    def test_wrong_password_is_permanent(
        self, make_smtp: Callable[..., FakeSmtp], tls_files: TlsFiles
    ) -> None:
        """A refused login is a PermanentError quoting the 535 and not the password."""
        server = make_smtp("starttls", users={USER: PASSWORD})
        wrong = "not-" + PASSWORD
        notifier = make(
            "email", options(server, tls_files, starttls=True, username=USER, password=wrong)
        )
        with pytest.raises(PermanentError) as caught:
            deliver(notifier)
        text = str(caught.value)
        assert "email channel 'test'" in text and "refused the login: 535" in text
        assert wrong not in text and PASSWORD not in text
        assert server.mails == []

    def test_one_recipient_refused(self, make_smtp: Callable[..., FakeSmtp]) -> None:
        """One of two recipients refused: delivered, and the answer names the refused one."""
        server = make_smtp("plain", refuse=("nobody@example.com",))
        notifier = make("email", options(server, to=["oncall@example.com", "nobody@example.com"]))
        answer = deliver(notifier)
        assert "refused recipients: nobody@example.com (550" in answer
        (mail,) = server.mails
        assert mail.rcpt_tos == ["oncall@example.com"]

    def test_all_recipients_refused(self, make_smtp: Callable[..., FakeSmtp]) -> None:
        """Every recipient refused is a PermanentError naming them."""
        server = make_smtp("plain", refuse=("a@example.com", "b@example.com"))
        notifier = make("email", options(server, to=["a@example.com", "b@example.com"]))
        with pytest.raises(PermanentError, match=r"refused every recipient: a@example\.com \(550"):
            deliver(notifier)

    def test_closed_port_is_retryable(self) -> None:
        """Nothing listening: RetryableError."""
        port = free_port()
        notifier = make(
            "email",
            {
                "host": "127.0.0.1",
                "port": port,
                "from": "a@b.cn",
                "to": ["c@d.cn"],
                "username": USER,
                "password": PASSWORD,
            },
        )
        with pytest.raises(RetryableError) as caught:
            deliver(notifier)
        assert f"127.0.0.1:{port}" in str(caught.value)
        assert PASSWORD not in str(caught.value)

    def test_silent_server_times_out(self) -> None:
        """A server that never greets is cut off by the channel's timeout: RetryableError."""
        silent = SilentServer()
        try:
            notifier = make(
                "email",
                {
                    "host": "127.0.0.1",
                    "port": silent.port,
                    "from": "a@b.cn",
                    "to": ["c@d.cn"],
                    "timeout": 0.5,
                },
            )
            started = time.monotonic()
            with pytest.raises(RetryableError, match="did not"):
                deliver(notifier)
            assert time.monotonic() - started < 3
        finally:
            silent.close()

    def test_untrusted_certificate_is_retryable(self, make_smtp: Callable[..., FakeSmtp]) -> None:
        """Implicit TLS to a self-signed certificate without ca_file fails verification."""
        server = make_smtp("tls")
        with pytest.raises(RetryableError, match="CERTIFICATE_VERIFY_FAILED"):
            deliver(make("email", options(server, tls=True)))
        assert server.mails == []

    def test_starttls_not_offered_is_permanent(self, make_smtp: Callable[..., FakeSmtp]) -> None:
        """starttls: true against a server without STARTTLS is a PermanentError."""
        server = make_smtp("plain")
        with pytest.raises(PermanentError, match="STARTTLS extension not supported"):
            deliver(make("email", options(server, starttls=True)))

    def test_starttls_required_by_server(self, make_smtp: Callable[..., FakeSmtp]) -> None:
        """A server requiring STARTTLS refuses a plain client with 530: permanent."""
        server = make_smtp("starttls")
        with pytest.raises(PermanentError, match="530"):
            deliver(make("email", options(server)))

    def test_no_password_in_any_error(
        self, make_smtp: Callable[..., FakeSmtp], tls_files: TlsFiles
    ) -> None:
        """Across refusal, bad login, TLS failure and closed port, the password never shows."""
        bad_login = make_smtp("starttls", users={USER: "other"})
        refused = make_smtp("starttls", users={USER: PASSWORD}, refuse=("oncall@example.com",))
        tls_server = make_smtp("tls", users={USER: PASSWORD})
        auth: dict[str, Any] = {"username": USER, "password": PASSWORD}
        channels = [
            make("email", options(bad_login, tls_files, starttls=True, **auth)),
            make("email", options(refused, tls_files, starttls=True, **auth)),
            make("email", options(tls_server, tls=True, **auth)),
            make(
                "email",
                {
                    "host": "127.0.0.1",
                    "port": free_port(),
                    "from": "a@b.cn",
                    "to": ["c@d.cn"],
                    **auth,
                },
            ),
        ]
        for channel in channels:
            with pytest.raises((PermanentError, RetryableError)) as caught:
                deliver(channel)
            assert PASSWORD not in str(caught.value) and PASSWORD not in repr(caught.value)
