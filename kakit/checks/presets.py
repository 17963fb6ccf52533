"""Built-in checks that work with no configuration file at all.

``kacheck nginx`` on a stock Debian/RHEL host needs nothing else. A check of the same name in
the YAML file is laid over its preset key by key (so ``nginx: {port: 443}`` keeps the preset's
process, pid file and restart settings); a YAML check of another ``type`` replaces the preset.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _apache_names() -> tuple[str, str, list[str]]:
    # Debian/Ubuntu call the server apache2 (binary, process and unit); RHEL calls it httpd.
    if os.path.exists("/usr/sbin/apache2") or not os.path.exists("/usr/sbin/httpd"):
        return "apache2", "/run/apache2/apache2.pid", ["apache2ctl", "configtest"]
    return "httpd", "/run/httpd/httpd.pid", ["httpd", "-t"]


def presets() -> dict[str, dict[str, Any]]:
    """The raw settings of every built-in check, by name."""
    apache, apache_pidfile, apache_test = _apache_names()
    apache_preset: dict[str, Any] = {
        "type": "service",
        "service": apache,
        "pidfile": apache_pidfile,
        "config_test": apache_test,
    }
    return {
        "nginx": {
            "type": "service",
            "service": "nginx",
            "pidfile": "/run/nginx.pid",
            "config_test": ["nginx", "-t", "-q"],
        },
        "httpd": apache_preset,
        "apache2": apache_preset,
        "flag": {"type": "flag", "path": "/etc/keepalived/down"},
        "gateway": {"type": "gateway", "target": "auto"},
        # Its VIPs come from the realserver section (kakit.checks.realserver.with_section).
        "realserver": {"type": "realserver"},
    }
