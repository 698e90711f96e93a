"""`python -m lifeline_replay`: serve replay (SIGTERM drains, then exits)."""

from lifeline_replay.app import build_app
from lifeline_replay.settings import ReplaySettings
from lifeline_servicekit import serve

if __name__ == "__main__":
    # per-message deflate costs more CPU than it saves on small JSON messages
    serve(build_app, ReplaySettings, ws_per_message_deflate=False)
