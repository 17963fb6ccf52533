"""``python -m kakit`` runs the admin CLI."""

from kakit.cli import kakit

kakit()
