"""The BFD session state machine, driven through scenario tables with an injected clock.

A scenario is a list of steps ``(time, packet)``: a packet is received at that time, or, with
``None``, the session's timer fires then (detection checked). The expected values are read after
the last step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from kakit.kaprobe.packet import ADMIN_DOWN, DOWN, INIT, UP, ControlPacket
from kakit.kaprobe.session import Session

ME = 0x1111
PEER = 0x2222
NEW_PEER = 0x3333
FAST = 50_000
SLOW = 1_000_000


def peer(state: int, your: int = ME, **fields: Any) -> ControlPacket:
    """A packet from the peer (my discr PEER), 50 ms / 50 ms x 3 unless given."""
    values: dict[str, Any] = {
        "state": state,
        "my_discr": PEER,
        "your_discr": your,
        "detect_mult": 3,
        "desired_min_tx": FAST,
        "required_min_rx": FAST,
    }
    values.update(fields)
    return ControlPacket(**values)


def new_session(mult: int = 3, passive: bool = False) -> Session:
    """A session at 50 ms x ``mult`` starting at time 0, jitter fixed at its upper bound."""
    return Session(
        local_discr=ME,
        desired_min_tx=FAST,
        required_min_rx=FAST,
        detect_mult=mult,
        now=0.0,
        passive=passive,
        uniform=lambda _low, high: high,
    )


def play(session: Session, steps: Sequence[tuple[float, ControlPacket | None]]) -> Session:
    """Run the steps against the session."""
    for at, packet in steps:
        if packet is None:
            session.expire(at)
        else:
            session.receive(packet, at)
    return session


HANDSHAKE: list[tuple[float, ControlPacket | None]] = [(0.0, peer(DOWN, your=0)), (0.5, peer(UP))]
UP_FAST: list[tuple[float, ControlPacket | None]] = [*HANDSHAKE, (0.6, peer(UP, final=True))]

Step = tuple[float, ControlPacket | None]
SCENARIOS: list[tuple[str, Sequence[Step], dict[str, Any]]] = [
    (
        "peer Down with your 0 -> Init, peer's discriminator learnt",
        [(0.0, peer(DOWN, your=0))],
        {"state": INIT, "remote_discr": PEER, "diag": 0},
    ),
    ("Init then peer Up -> Up", HANDSHAKE, {"state": UP, "diag": 0}),
    ("Down then peer Init -> Up", [(0.0, peer(INIT))], {"state": UP}),
    ("Down then peer Up -> stays Down", [(0.0, peer(UP))], {"state": DOWN}),
    (
        "slow start: 1 s TX while not Up, even if the peer accepts 50 ms",
        [(0.0, peer(DOWN, your=0))],
        {"desired_min_tx": SLOW, "tx_interval": SLOW, "poll_active": False},
    ),
    (
        "on Up: fast Desired Min TX, announced with a Poll",
        HANDSHAKE,
        {"desired_min_tx": FAST, "tx_interval": FAST, "poll_active": True},
    ),
    ("F ends our Poll", UP_FAST, {"poll_active": False, "state": UP}),
    (
        "TX interval = max(our desired, peer's required RX)",
        [*UP_FAST, (0.7, peer(UP, required_min_rx=300_000))],
        {"tx_interval": 300_000},
    ),
    (
        "detection time = peer mult x max(our required RX, peer desired TX)",
        [*UP_FAST, (0.7, peer(UP, detect_mult=5, desired_min_tx=200_000))],
        {"detection_time": 1_000_000},
    ),
    (
        "detection time expires in Up -> Down, diag 1, peer discriminator forgotten",
        [*UP_FAST, (0.6 + 0.15, None)],
        {"state": DOWN, "diag": 1, "last_down_diag": 1, "remote_discr": 0},
    ),
    (
        "timer before the deadline changes nothing",
        [*UP_FAST, (0.6 + 0.149, None)],
        {"state": UP, "remote_discr": PEER},
    ),
    (
        "back to slow start after going Down",
        [*UP_FAST, (0.75, None)],
        {"desired_min_tx": SLOW, "tx_interval": SLOW, "poll_active": False},
    ),
    (
        "peer says Down while Up -> Down, diag 3",
        [*UP_FAST, (0.7, peer(DOWN, your=0))],
        {"state": DOWN, "diag": 3},
    ),
    (
        "peer AdminDown while Up -> Down, diag 3",
        [*UP_FAST, (0.7, peer(ADMIN_DOWN))],
        {"state": DOWN, "diag": 3},
    ),
    (
        "peer AdminDown while Down -> stays Down",
        [(0.0, peer(ADMIN_DOWN, your=0))],
        {"state": DOWN, "diag": 0},
    ),
    (
        "a restarted peer's new discriminator is accepted after Down",
        [
            *UP_FAST,
            (0.75, None),
            (2.0, peer(DOWN, your=0, my_discr=NEW_PEER)),
            (2.5, peer(UP, my_discr=NEW_PEER)),
        ],
        {"state": UP, "remote_discr": NEW_PEER},
    ),
    (
        "expiry while Down only forgets the discriminator",
        [(0.0, peer(DOWN, your=0, desired_min_tx=SLOW)), (0.0 + 3.0, None)],
        {"remote_discr": 0},
    ),
]


@pytest.mark.parametrize(
    ("steps", "expected"), [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS]
)
def test_scenario(
    steps: list[tuple[float, ControlPacket | None]], expected: dict[str, Any]
) -> None:
    """After the steps the session's state, diag and timers are as the RFC says."""
    session = play(new_session(), steps)
    assert {key: getattr(session, key) for key in expected} == expected


class TestPollFinal:
    """Poll/Final (RFC 5880 6.5)."""

    def test_poll_answered_with_final(self) -> None:
        """A packet with P asks for an immediate packet with F and without P."""
        session = play(new_session(), HANDSHAKE)
        assert session.receive(peer(UP, poll=True), 0.7) is True
        answer = session.packet(final=True)
        assert answer.final and not answer.poll

    def test_poll_set_until_final(self) -> None:
        """Our periodic packets carry P from Up until the peer's F."""
        session = play(new_session(), HANDSHAKE)
        assert session.packet().poll
        session.receive(peer(UP, final=True), 0.6)
        assert not session.packet().poll


class TestTimers:
    """Timer rules: re-arming, jitter, detection deadline, when not to send."""

    def test_shrinking_interval_rearms_tx(self) -> None:
        """When the peer lowers its Required Min RX, the next TX moves forward at once."""
        session = play(new_session(), [(0.0, peer(DOWN, your=0, required_min_rx=SLOW))])
        session.receive(peer(UP, required_min_rx=SLOW), 0.5)
        session.transmitted(0.5)
        assert session.next_tx_at == pytest.approx(1.5)
        session.receive(peer(UP, required_min_rx=FAST), 0.6)
        assert session.next_tx_at == pytest.approx(0.65)

    @pytest.mark.parametrize(("mult", "bounds"), [(3, (0.75, 1.0)), (1, (0.75, 0.9))])
    def test_jitter_bounds(self, mult: int, bounds: tuple[float, float]) -> None:
        """Each interval is 75-100 % of nominal, 75-90 % with a detect multiplier of 1."""
        asked: list[tuple[float, float]] = []

        def uniform(low: float, high: float) -> float:
            asked.append((low, high))
            return low

        session = Session(
            local_discr=ME,
            desired_min_tx=FAST,
            required_min_rx=FAST,
            detect_mult=mult,
            now=0.0,
            uniform=uniform,
        )
        session.transmitted(0.0)
        assert asked == [bounds]
        assert session.next_tx_at == pytest.approx(0.75)

    def test_deadline_follows_last_packet(self) -> None:
        """The session's next deadline is the earlier of next TX and last RX + detection."""
        session = play(new_session(), UP_FAST)
        session.transmitted(0.6)
        assert session.detect_deadline == pytest.approx(0.75)
        assert session.next_deadline() == pytest.approx(0.65)

    def test_no_periodic_tx_when_peer_requires_zero_rx(self) -> None:
        """Required Min RX 0 from the peer means: send it no periodic packets."""
        session = play(new_session(), [(0.0, peer(DOWN, your=0, required_min_rx=0))])
        assert not session.may_transmit()

    def test_passive_waits_for_the_peer(self) -> None:
        """A passive session sends nothing until it has heard the peer."""
        session = new_session(passive=True)
        assert not session.may_transmit()
        session.receive(peer(DOWN, your=0), 0.0)
        assert session.may_transmit()


class TestAdminDown:
    """Local AdminDown (RFC 5880 6.8.16)."""

    def test_admin_down_ignores_packets(self) -> None:
        """AdminDown sends diag 7 and stays AdminDown whatever the peer says."""
        session = play(new_session(), UP_FAST)
        session.admin_down(1.0)
        session.receive(peer(UP), 1.01)
        assert (session.state, session.packet().diag) == (ADMIN_DOWN, 7)

    def test_transitions_recorded(self) -> None:
        """Every state change is recorded once, with its diag and time."""
        session = play(new_session(), [*UP_FAST, (0.75, None)])
        assert [(t.old, t.new, t.diag) for t in session.transitions] == [
            (DOWN, INIT, 0),
            (INIT, UP, 0),
            (UP, DOWN, 1),
        ]
