"""Shared core: records, converters, secrets, files, locks, logging, /proc, programs."""
