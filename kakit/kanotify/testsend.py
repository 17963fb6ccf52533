"""``kanotify test CHANNEL``: send a clearly marked test alert now and report the answer."""

from __future__ import annotations

import sys
import time

from kakit.alerts.alert import Alert
from kakit.alerts.direct import send_now
from kakit.core.events import StateEvent
from kakit.core.log import logger
from kakit.exceptions import EXIT_FAILURE, EXIT_OK, ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.config import Config

TEST_TIMEOUT = 30.0


def send_test(config: Config, channel: str) -> int:
    """Send the test alert; print and log the channel's answer; 0 on success."""
    if channel not in config.channels:
        known = ", ".join(sorted(config.channels)) or "none configured"
        raise ConfigError(f"unknown channel {channel!r} (known: {known})")
    event = StateEvent(
        kind="INSTANCE", name="kakit-test", state="MASTER", priority=100, time=time.time()
    )
    alert = Alert.of([event], node=config.node_name(), previous="BACKUP", hooks=(), test=True)
    ((ok, answer),) = send_now(config, alert, [channel], TEST_TIMEOUT).values()
    if not ok:
        logger.error(f"test alert to {channel} failed: {answer}")
        sys.stdout.write(f"{channel}: FAILED: {answer}\n")
        return EXIT_FAILURE
    logger.info(f"test alert to {channel} delivered: {answer}")
    sys.stdout.write(f"{channel}: delivered: {answer}\n")
    return EXIT_OK
