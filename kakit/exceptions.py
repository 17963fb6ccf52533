"""The one exception tree of kakit.

    KakitError                      base; carries the process exit code
     +-- UsageError                 bad command line (exit 2)
     +-- ConfigError(ValueError)    bad configuration: names file, line, key path, value (exit 2)
     |    +-- ConfigErrors          several of them, found in one pass over the file
     +-- CheckError                 a check could not run at all (exit 1: keepalived fails over)
     +-- StateError(OSError)        state/data directory, lock or latch file unusable (exit 1)
     +-- NotifyError                an alert could not be delivered (a base, for except)
     |    +-- DeliveryError         one send to a channel failed (a base, for except)
     |         +-- RetryableError   a later attempt may succeed (5xx, 429, refused connection...)
     |         |    +-- NotifierTimeout(TimeoutError)  the channel did not answer in time
     |         +-- PermanentError   retrying cannot help: bad token, signature, recipient...
     +-- HookError                  a state hook (sysctl, firewall, run) failed

The two notifier bases are there to be caught; the classes under them are raised by the
channels: RetryableError, NotifierTimeout (the channel's own timeout ran out: retried like any
RetryableError, and also a TimeoutError) and PermanentError. The delivery worker retries the
first two and marks the message failed on the last.

Library errors (OSError, yaml, httpx, icmplib, psutil) are translated into this tree where they
cross into kakit code, with ``raise ... from exc``, so every message reaching an operator is one
line that says what was being done and with what.

This module imports nothing: every kakit entry point loads it, including the one keepalived forks
every second.
"""

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class KakitError(Exception):
    """Base class of every error kakit raises on purpose.

    Attributes:
        exit_code: The process exit code the command line uses for this error.
    """

    exit_code: int = EXIT_FAILURE


class UsageError(KakitError):
    """The command line is wrong (unknown option, missing argument)."""

    exit_code = EXIT_USAGE


class ConfigError(KakitError, ValueError):
    """The configuration is invalid; the message names file, line, key path and value.

    Attributes:
        line: The line it is about (0 when unknown), to list several errors in file order.
    """

    exit_code = EXIT_USAGE
    line = 0


class ConfigErrors(ConfigError):
    """Every error one validation pass found, in file order (``kakit config check`` lists them).

    Its message is the first error and how many more there are, so a tool that can only say one
    line (``kacheck`` under keepalived, with exit 2) still says something exact.

    Attributes:
        errors: The single errors, each a one-line ConfigError naming file, line and key path.
    """

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        more = len(errors) - 1
        super().__init__(f"{errors[0]} (and {more} more; run `kakit config check`)")


def config_errors(error: ConfigError) -> list[ConfigError]:
    """The single errors ``error`` stands for (itself, unless it is a :class:`ConfigErrors`)."""
    return list(error.errors) if isinstance(error, ConfigErrors) else [error]


def raise_collected(errors: list[ConfigError]) -> None:
    """Raise what a validation pass collected: nothing, the one error, or all of them.

    Raises:
        ConfigError: One error was collected (raised as is, message unchanged).
        ConfigErrors: Several were.
    """
    flat = [single for error in errors for single in config_errors(error)]
    flat.sort(key=lambda error: error.line)  # file order; errors with no line first
    if len(flat) == 1:
        raise flat[0]
    if flat:
        raise ConfigErrors(flat)


class CheckError(KakitError):
    """A check could not be carried out (bad address, no permission to ping...)."""


class StateError(KakitError, OSError):
    """A state, lock or latch file could not be read or written."""


class NotifyError(KakitError):
    """An alert could not be delivered."""


class DeliveryError(NotifyError):
    """One send to a channel failed; the subclass says whether a retry can help."""


class RetryableError(DeliveryError):
    """The channel failed in a way a later attempt may fix (5xx, 429, refused connection).

    Attributes:
        retry_after: Seconds the platform asked us to wait, if it said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotifierTimeout(RetryableError, TimeoutError):
    """The channel did not answer within its timeout (retryable)."""


class PermanentError(DeliveryError):
    """The channel refused in a way retrying cannot fix (bad token, signature, recipient)."""


class HookError(KakitError):
    """A state hook failed to apply."""
