"""`python -m lifeline_snapshot`: serve snapshot (SIGTERM drains, then exits)."""

from lifeline_servicekit import serve
from lifeline_snapshot.app import build_app
from lifeline_snapshot.settings import SnapshotSettings

if __name__ == "__main__":
    serve(build_app, SnapshotSettings)
