"""Memory consolidation: finished sessions become deterministic, provenance-linked profiles."""
