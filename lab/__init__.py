"""Reusable multi-node lab: network namespaces on a bridge running real keepalived and nginx.

Used by the end-to-end tests and by ``make demo``. Needs root (``ip netns``) and the
keepalived and nginx binaries; only addresses in 10.213.0.0/16 are used.
"""

from lab.keepalived import vrrp_instance_conf
from lab.lab import Lab
from lab.node import Node

__all__ = ["Lab", "Node", "vrrp_instance_conf"]
