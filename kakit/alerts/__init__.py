"""The alert pipeline every tool shares: message rendering, the durable outbox, delivery."""
