"""Shared set-up for the benchmarks: a private network namespace running a real nginx.

The benchmarks re-execute themselves inside a namespace of their own, so ``kacheck nginx``
finds exactly one nginx (ours) and no traffic leaves the machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NS_ENV = "KAKIT_BENCH_NS"

NGINX_CONF = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    server {{ listen 127.0.0.1:8080; return 200 "bench\\n"; }}
}}
"""


def venv_bin(name: str) -> str:
    """A console script of the interpreter running the benchmark."""
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        raise SystemExit(f"{name} is not installed beside {sys.executable}: run `make bench`")
    return str(path)


def in_private_namespace() -> None:
    """Re-run this script inside a new network namespace (deleted afterwards)."""
    if os.environ.get(NS_ENV):
        return
    if os.geteuid() != 0:
        raise SystemExit("the benchmarks need root (network namespace, nginx)")
    name = f"kbench{os.getpid()}"
    cache = tempfile.mkdtemp(prefix="kakit-bench-cache-")
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        # The validated-config cache is part of what is measured, but is not left behind.
        env = dict(os.environ, **{NS_ENV: name, "KAKIT_CONFIG_CACHE": cache})
        env.pop("KAKIT_CONFIG", None)
        code = subprocess.run(
            ["ip", "netns", "exec", name, sys.executable, *sys.argv], env=env
        ).returncode
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(cache, ignore_errors=True)
    raise SystemExit(code)


@contextmanager
def private_nginx() -> Iterator[int]:
    """Run nginx (daemon off, our child) in the current namespace; yields its master pid."""
    if shutil.which("nginx") is None:
        raise SystemExit("nginx is not installed (apt-get install nginx)")
    workdir = Path(tempfile.mkdtemp(prefix="kakit-bench-"))
    (workdir / "tmp").mkdir()
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir))
    proc = subprocess.Popen(
        ["nginx", "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while not (workdir / "nginx.pid").exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("nginx did not start")
            time.sleep(0.05)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def no_config_guard() -> None:
    """The budgets are for runs without a configuration file."""
    if os.path.exists("/etc/kakit/kakit.yaml"):
        raise SystemExit(
            "/etc/kakit/kakit.yaml exists: the start-up budget is defined without a config file"
        )


def summarize(samples: list[float]) -> tuple[float, float]:
    """Median and 90th percentile, in milliseconds."""
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return statistics.median(ordered) * 1000, p90 * 1000
