"""Export and import: a session as one redacted JSON bundle, and a bundle back as a
sandbox session (`bundle` and `redaction` are pure; `exporter` reads ingest's log;
`api` the routes)."""
