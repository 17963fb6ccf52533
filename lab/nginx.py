"""nginx.conf text for lab nodes."""

from __future__ import annotations

from pathlib import Path

BROKEN_NGINX_CONF = (
    "# kakit lab: deliberately invalid so that `nginx -t` and any restart fail\n"
    "kakit_lab_broken_on_purpose;\n"
)
"""Configuration text nginx rejects (unknown directive)."""

_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_page(name: str) -> str:
    """Return the body a lab node's nginx serves.

    Args:
        name: Node name.

    Returns:
        ``"node NAME\\n"``.
    """
    return f"node {name}\n"


def nginx_conf_text(name: str, directory: Path, pidfile: Path, error_log: Path) -> str:
    """Build a self-contained nginx.conf for one lab node.

    Nothing in it points at the shared ``/run`` or ``/var/lib/nginx``: nodes share the
    filesystem, so the pid file, the error log and the temp directories live in the node's
    own directory.

    Args:
        name: Node name, served back as the page body.
        directory: The node's directory; temp paths go to ``DIRECTORY/nginx-tmp``.
        pidfile: Where the master writes its pid.
        error_log: Error log path.

    Returns:
        The configuration text.
    """
    tmp = directory / "nginx-tmp"
    temp_lines = "\n".join(f"    {kind}_temp_path {tmp / kind};" for kind in _TEMP_PATHS)
    # No `daemon` directive on purpose: the lab starts nginx with `-g "daemon off;"` so it
    # stays the lab's child (and gets reaped), while a plain `nginx -c FILE` still daemonizes
    # as a real restart would. Repeating the directive in -g would be a "duplicate" error.
    # The page is a `return`, not a file: workers run as nobody and cannot read a 0700 tmpdir.
    return f"""# kakit lab: nginx.conf for node {name} (generated)
worker_processes 1;
pid {pidfile};
error_log {error_log} notice;

events {{
    worker_connections 64;
}}

http {{
    access_log off;
{temp_lines}

    server {{
        listen 0.0.0.0:80 default_server;
        server_name _;

        location / {{
            default_type text/plain;
            return 200 "{nginx_page(name).rstrip()}\\n";
        }}
    }}
}}
"""
