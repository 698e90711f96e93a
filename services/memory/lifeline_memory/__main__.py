"""`python -m lifeline_memory`: serve memory consolidation (SIGTERM drains, then exits)."""

from lifeline_memory.app import build_app
from lifeline_memory.settings import MemorySettings
from lifeline_servicekit import serve

if __name__ == "__main__":
    serve(build_app, MemorySettings)
