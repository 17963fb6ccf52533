"""``kaprobe``: a BFD speaker (RFC 5880 asynchronous mode, RFC 5881 single hop).

It peers with keepalived's ``bfd_instance``, FRR's bfdd or another kaprobe and turns session
changes into keepalived ``track_file`` values and kakit alerts (docs/kaprobe.md).

    packet.py   the 24-byte control packet: encode, decode and the reception checks
    session.py  the per-session state machine and timers, pure (injected clock, no I/O)
    runtime.py  asyncio: sockets, TTL check, demultiplexing, one timer per session, outputs
    status.py   the status file and ``kaprobe status``
    reports.py  the thread off the timing path: bfd_up / bfd_down alerts, the metrics endpoint
    metrics.py  the Prometheus exposition of the status record
    cli.py      the command line
"""
