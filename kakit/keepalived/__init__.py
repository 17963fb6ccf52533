"""keepalived's own formats, read by every kakit tool: ``keepalived.conf`` (:mod:`.conf`) and
the notify FIFO's lines (:mod:`.fifo`)."""
