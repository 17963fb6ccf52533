"""``kanotify``: the keepalived notify target (argv events, ordered hooks, alert hand-off)."""
