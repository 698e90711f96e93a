"""`python -m lifeline_governance`: serve governance (SIGTERM drains, then exits)."""

from lifeline_governance.app import build_app
from lifeline_governance.settings import GovernanceSettings
from lifeline_servicekit import serve

if __name__ == "__main__":
    serve(build_app, GovernanceSettings)
