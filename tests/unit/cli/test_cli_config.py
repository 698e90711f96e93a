"""The CLI's configuration (options > env > .lifeline/stack.env > defaults) and its error path."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from lifeline_cli.config import DEFAULTS, find_stack_env, load_config, parse_env_file
from lifeline_cli.main import app
from lifeline_servers import free_port


def test_env_file_lines() -> None:
    """stack.env lines parse with comments, `export` and quotes tolerated."""
    text = "# stack\nLIFELINE_API_KEY=k1\nexport LIFELINE_SNAPSHOT_URL='http://h:1'\n\nnot a line\n"
    assert parse_env_file(text) == {"LIFELINE_API_KEY": "k1", "LIFELINE_SNAPSHOT_URL": "http://h:1"}


def test_precedence_options_env_file_defaults(tmp_path: Path) -> None:
    """An option beats the environment, which beats stack.env, which beats the defaults."""
    (tmp_path / ".lifeline").mkdir()
    (tmp_path / ".lifeline" / "stack.env").write_text(
        "LIFELINE_API_KEY=from-file\nLIFELINE_SNAPSHOT_URL=http://file:8003\nLIFELINE_REPLAY_URL=http://file:8002\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_stack_env(nested) == tmp_path / ".lifeline" / "stack.env"
    config = load_config({"LIFELINE_SNAPSHOT_URL": "http://env:8003"}, cwd=nested, api_key="from-option")
    assert (config.api_key, config.snapshot_url, config.replay_url, config.ingest_url) == \
        ("from-option", "http://env:8003", "http://file:8002", DEFAULTS["LIFELINE_INGEST_URL"])
    assert config.source.endswith("stack.env")


def test_unreachable_service_prints_the_problem_and_exits_non_zero(tmp_path: Path) -> None:
    """A service that does not answer is reported with its URL, exit status 1, nothing on stdout."""
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["--snapshot-url", url, "--api-key", "k", "snapshot", "list", "s-1"])
    assert result.exit_code == 1
    assert f"cannot reach {url}" in result.stderr and result.stdout == ""


def test_missing_bundle_file_is_an_error(tmp_path: Path) -> None:
    """Importing a file that does not exist fails before any request, naming the file."""
    result = CliRunner().invoke(app, ["--api-key", "k", "import", str(tmp_path / "nope.json")])
    assert result.exit_code == 1 and "no such bundle file" in result.stderr
