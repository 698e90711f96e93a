"""The explorer's config.json and the launcher's explorer URL: where the page finds everything."""

from __future__ import annotations

from lifeline_launcher.services import SERVICES
from lifeline_launcher.stack import explorer_url
from lifeline_tracestore.explorer import UI_DIR, explorer_config
from lifeline_tracestore.settings import TraceStoreSettings


def test_config_names_every_service_and_no_secret() -> None:
    """Every peer's base URL comes from trace-store's settings; no API key is ever in it."""
    settings = TraceStoreSettings(api_keys={"secret-key": {"tenant": "t"}}, memory_url="",
                                  governance_url="http://g:1/", grafana_url="http://graf:3000")
    config = explorer_config(settings, "http://127.0.0.1:8006/")
    assert set(config["services"]) == {"ingest", "replay", "snapshot", "memory", "governance", "tracestore"}
    assert config["services"]["governance"] == "http://g:1"
    assert config["services"]["memory"] == settings.explorer_memory_url
    assert config["services"]["tracestore"] == "http://127.0.0.1:8006"
    assert config["grafana"]["tracestore"] == "http://graf:3000/d/lifeline-traces"
    assert "{trace_id}" in config["jaeger_trace_url"]
    assert "secret-key" not in str(config)


def test_public_urls_replace_internal_peer_names() -> None:
    """Behind containers the browser gets LIFELINE_EXPLORER_URLS, not `http://ingest:8001`."""
    settings = TraceStoreSettings(ingest_url="http://ingest:8001",
                                  explorer_urls={"ingest": "http://localhost:8001/"})
    assert explorer_config(settings, "http://x/")["services"]["ingest"] == "http://localhost:8001"


def test_grafana_links_are_left_out_without_a_grafana() -> None:
    """LIFELINE_GRAFANA_URL= (empty) means no Grafana links rather than broken ones."""
    assert explorer_config(TraceStoreSettings(grafana_url=""), "http://x/")["grafana"] == {}


def test_the_page_ships_inside_the_package() -> None:
    """The static files are package data: `make install` is all the page needs."""
    assert {"index.html", "app.js", "timeline.js", "style.css"} <= {p.name for p in UI_DIR.iterdir()}


def test_the_launcher_names_the_explorer_only_when_trace_store_runs() -> None:
    """`make run` prints (and writes to stack.env) trace-store's /ui/ page."""
    assert explorer_url(SERVICES) == "http://127.0.0.1:8006/ui/"
    assert explorer_url([s for s in SERVICES if s.name != "tracestore"]) is None
