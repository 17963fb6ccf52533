"""keepalived's own files, read by kakit: ``keepalived.conf`` (:mod:`kakit.keepalived.conf`)."""
