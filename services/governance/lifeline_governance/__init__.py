"""Lifecycle governance (port 8005): models earn PRIMARY on evidence, fail over on their
own, and every decision is audited and replayable (spec §B)."""
