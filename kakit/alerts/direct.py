"""Sending an alert at once, without the outbox: ``kanotify test`` and the last resort.

The outbox is the normal road. When it cannot store an alert (read-only or full disk, a corrupt
database), kanotify still has the alert in memory and sends it from here, within a budget,
rather than drop it; ``kanotify test CHANNEL`` uses the same road on purpose.
"""

from __future__ import annotations

import asyncio

from kakit import notifiers
from kakit.alerts.messages import render
from kakit.exceptions import KakitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import httpx

    from kakit.alerts.alert import Alert
    from kakit.config import Config


async def _send_one(
    config: Config, alert: Alert, channel: str, client: httpx.AsyncClient, seconds: float
) -> tuple[bool, str]:
    spec = config.channels[channel]
    notifier = notifiers.load(spec.type)(channel, spec.options)
    message = render(alert, language=spec.language, templates=config.templates.get(spec.language))
    try:
        async with asyncio.timeout(seconds):
            return True, await notifier.send(message, client)
    except TimeoutError:
        return False, f"no answer within {seconds:g} s"
    except KakitError as exc:
        return False, str(exc)


async def _send_all(
    config: Config, alert: Alert, channels: list[str], seconds: float
) -> dict[str, tuple[bool, str]]:
    import httpx

    async with httpx.AsyncClient(trust_env=False) as client, asyncio.TaskGroup() as group:
        tasks = {
            channel: group.create_task(_send_one(config, alert, channel, client, seconds))
            for channel in channels
        }
    return {channel: task.result() for channel, task in tasks.items()}


def send_now(
    config: Config, alert: Alert, channels: list[str], seconds: float
) -> dict[str, tuple[bool, str]]:
    """Send ``alert`` to ``channels`` concurrently, each within ``seconds``.

    Returns:
        Per channel: whether it was delivered, and the channel's answer or the error.
    """
    return asyncio.run(_send_all(config, alert, channels, seconds))
