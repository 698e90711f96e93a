"""A child process that cannot outlive the Python process that started it.

Every server and service we start runs in its own session (so Ctrl-C in a terminal
reaches only the supervisor, which then stops things in order) and therefore in its
own process group, which `kill()` takes down whole (Postgres forks backends).

Three layers make sure nothing is left behind:
1. `stop()` / `kill()` called by the owner;
2. an `atexit` hook that stops whatever is still running at interpreter exit;
3. a watchdog (one `sh` blocked in its builtin `read` on a pipe only we hold the write
   end of): when our
   process dies in any way, even SIGKILL, the pipe closes and the watchdog signals
   the group, then SIGKILLs it after a grace period. atexit alone misses SIGKILL and
   a CI timeout, and PR_SET_PDEATHSIG fires when the *thread* that forked exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_WATCHDOG = (
    "while read -r _; do :; done; kill -{sig} {pid} 2>/dev/null; i=0; "
    'while kill -0 -- -{pid} 2>/dev/null && [ "$i" -lt {ticks} ]; do sleep 0.1; i=$((i+1)); done; '
    "kill -KILL -- -{pid} 2>/dev/null; exit 0"
)

_live: set[ManagedProcess] = set()
_live_lock = threading.Lock()
_scratch: list[Path] = []


class ManagedProcess:
    """One child in its own process group, its output appended to a log file."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        orphan_grace_s: float = 5.0,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.user = user
        self.stop_signal = stop_signal
        self.orphan_grace_s = orphan_grace_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._watchdog_pipe: int | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        """Spawn the child (idempotent while it runs) and its orphan watchdog."""
        if self.is_alive():
            return
        self._reap()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                user=self.user,
                group=self._group(),
                extra_groups=[] if self.user else None,
                start_new_session=True,
            )
        self._start_watchdog(self._proc.pid)
        with _live_lock:
            _live.add(self)

    def _group(self) -> int | None:
        """The user's own primary group: keeping ours (root) would lock it out of
        root-owned directories that are open to "others" only."""
        if self.user is None:
            return None
        import pwd

        return pwd.getpwnam(self.user).pw_gid

    def _start_watchdog(self, pid: int) -> None:
        read_end, write_end = os.pipe()
        script = _WATCHDOG.format(
            sig=self.stop_signal.name.removeprefix("SIG"),
            pid=pid,
            ticks=int(self.orphan_grace_s * 10),
        )
        try:
            self._watchdog = subprocess.Popen(
                ["sh", "-c", script],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(read_end)
        self._watchdog_pipe = write_end

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to exit with its stop signal; SIGKILL the group after `timeout`."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(self.stop_signal)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._kill_group()
        self._reap()

    def kill(self) -> None:
        """SIGKILL the whole process group at once, as a crash would."""
        if self._proc is None:
            return
        self._kill_group()
        self._reap()

    def _kill_group(self) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(5.0)

    def _reap(self) -> None:
        """Forget a finished child and retire its watchdog without letting it fire."""
        if self._watchdog is not None:
            with contextlib.suppress(ProcessLookupError):
                self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None
        if self._watchdog_pipe is not None:
            os.close(self._watchdog_pipe)
            self._watchdog_pipe = None
        with _live_lock:
            _live.discard(self)

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines this run wrote: what an error message should show."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def stop_all(timeout: float = 5.0) -> None:
    """Stop every child still running; registered with atexit."""
    with _live_lock:
        children = list(_live)
    for child in children:
        with contextlib.suppress(Exception):
            child.stop(timeout)


def wait_until(
    check: Callable[[], object],
    timeout: float,
    *,
    interval: float = 0.05,
    alive: ManagedProcess | None = None,
) -> bool:
    """Poll `check()` until it is truthy; False on timeout or once `alive` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive.is_alive():
            return False
        try:
            if check():
                return True
        except Exception:
            pass
        time.sleep(interval)
    return False


def scratch_dir(prefix: str) -> Path:
    """A temporary directory removed at exit, after every child has been stopped."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _scratch.append(path)
    return path


def _cleanup_at_exit() -> None:
    stop_all()
    for path in _scratch:
        shutil.rmtree(path, ignore_errors=True)


atexit.register(_cleanup_at_exit)
