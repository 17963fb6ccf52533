"""keepalived's own formats, read by every kakit tool: the notify FIFO's lines (:mod:`.fifo`)."""
