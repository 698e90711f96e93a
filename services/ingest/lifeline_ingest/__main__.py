"""`python -m lifeline_ingest`: serve ingest (SIGTERM drains, then exits).

Scale out by running more ingest processes (each its own port or behind a balancer):
seq stays gapless across them (the log's seq and turn constraints) and one of them
leads the relay.
"""

from lifeline_ingest.app import build_app
from lifeline_ingest.settings import IngestSettings
from lifeline_servicekit import serve

if __name__ == "__main__":
    serve(build_app, IngestSettings)
