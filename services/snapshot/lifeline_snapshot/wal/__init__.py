"""The WAL across services: published (ingest) and applied (snapshot, replay) per event,
and the reconcile that repairs it (`view` is pure; `api` the routes)."""
