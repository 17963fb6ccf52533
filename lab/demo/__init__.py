"""``make demo`` (``python -m lab.demo``): kacheck keeps nginx up, the VIP moves when it cannot,
and when kaprobe sees the master's uplink die.

Two lab nodes run real keepalived and nginx. Both track ``kacheck nginx`` (weight 0, so a failing
check means FAULT) and run ``kanotify`` as keepalived's ``notify`` target: on MASTER it sets a
sysctl and installs kakit's firewall rules, on every state change it queues an alert for a
webhook sink running on the lab's gateway. The demo kills nginx on the master (kacheck restarts
it, the VIP stays), then breaks nginx's configuration there (the restart cannot work, the VIP
and the firewall rules move to the backup, the sink receives both nodes' alerts), then repairs
it (the VIP comes back by preemption), then blocks VRRP between the nodes (both become
MASTER; each alerts the split brain and its end). Last, the BFD act: kaprobe on the master
keeps a session with the gateway (its uplink), the master's keepalived tracks kaprobe's track
file, and the gateway stops forwarding for the master: the VIP moves in about a third of a
second (the time measured with ``ip monitor`` is printed) and the ``bfd_down`` alert reaches
the sink once the uplink is back. Every step is narrated with timestamps.

One module per job: :mod:`~lab.demo.nodes` writes each node's kakit.yaml and keepalived.conf
(also used by ``tests/lab/test_e2e_kacheck.py``), :mod:`~lab.demo.preflight` checks that the
demo can run here, :mod:`~lab.demo.narration` prints it, :mod:`~lab.demo.watch` waits for the
VIP, the alerts and the firewall rules, :mod:`~lab.demo.acts` are the steps (the split brain's in :mod:`~lab.demo.splitbrain`), and
:mod:`~lab.demo.run` ties them together.
"""

from lab.demo.narration import LogTail
from lab.demo.nodes import BACKUP_PRIORITY, MASTER_PRIORITY, KakitFiles, configure_node
from lab.demo.run import main, run_demo

__all__ = [
    "BACKUP_PRIORITY",
    "MASTER_PRIORITY",
    "KakitFiles",
    "LogTail",
    "configure_node",
    "main",
    "run_demo",
]
