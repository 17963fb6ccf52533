"""``kacheck``: the keepalived track-script target (one-shot runs and watch mode)."""
