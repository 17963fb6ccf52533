"""Local stand-ins for the services kakit talks to, all on 127.0.0.1.

``tests.fakes.dingtalk``, ``tests.fakes.feishu`` and ``tests.fakes.webhook`` are real HTTP
servers (stdlib ``ThreadingHTTPServer`` in a thread); ``tests.fakes.smtp`` wraps aiosmtpd;
``tests.fakes.alertmanager`` runs the real Debian ``prometheus-alertmanager``. Their pytest
fixtures live in ``tests.fakes.fixtures``.
"""
