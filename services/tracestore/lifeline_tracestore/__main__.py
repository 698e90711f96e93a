"""`python -m lifeline_tracestore`: serve the trace store (SIGTERM drains, then exits)."""

from lifeline_servicekit import serve
from lifeline_tracestore.app import build_app
from lifeline_tracestore.settings import TraceStoreSettings

if __name__ == "__main__":
    serve(build_app, TraceStoreSettings)
