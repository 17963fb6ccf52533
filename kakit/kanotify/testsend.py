"""``kanotify test CHANNEL``: send a clearly marked test alert now and report the answer."""

from __future__ import annotations

import asyncio
import sys
import time

from kakit import notifiers
from kakit.alerts.alert import Alert
from kakit.alerts.messages import render
from kakit.core.events import StateEvent
from kakit.core.log import logger
from kakit.exceptions import EXIT_FAILURE, EXIT_OK, ConfigError, KakitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.config import Config

TEST_TIMEOUT = 30.0


async def _send(config: Config, channel: str) -> str:
    import httpx

    spec = config.channels[channel]
    notifier = notifiers.load(spec.type)(channel, spec.options)
    event = StateEvent(
        kind="INSTANCE", name="kakit-test", state="MASTER", priority=100, time=time.time()
    )
    alert = Alert.of([event], node=config.node_name(), previous="BACKUP", hooks=(), test=True)
    message = render(alert, language=spec.language, templates=config.templates.get(spec.language))
    async with httpx.AsyncClient(trust_env=False) as client, asyncio.timeout(TEST_TIMEOUT):
        return await notifier.send(message, client)


def send_test(config: Config, channel: str) -> int:
    """Send the test alert; print and log the channel's answer; 0 on success."""
    if channel not in config.channels:
        known = ", ".join(sorted(config.channels)) or "none configured"
        raise ConfigError(f"unknown channel {channel!r} (known: {known})")
    try:
        answer = asyncio.run(_send(config, channel))
    except (KakitError, TimeoutError) as exc:
        reason = str(exc) or f"no answer within {TEST_TIMEOUT:g} s"
        logger.error(f"test alert to {channel} failed: {reason}")
        sys.stdout.write(f"{channel}: FAILED: {reason}\n")
        return EXIT_FAILURE
    logger.info(f"test alert to {channel} delivered: {answer}")
    sys.stdout.write(f"{channel}: delivered: {answer}\n")
    return EXIT_OK
