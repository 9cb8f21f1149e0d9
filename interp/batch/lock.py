"""A run folder's lock: one run writes into a folder at a time (``fcntl.flock``, released by the kernel on ``kill -9``)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from interp.errors import RunLockedError

__all__ = ["LOCK_FILE", "is_locked", "now", "run_lock"]

LOCK_FILE = ".lock"


def now() -> str:
    """The current UTC time, ISO 8601 to the second (what run.json records)."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def run_lock(directory: str | os.PathLike, *, wait_s: float = 1.0) -> Iterator[Path]:
    """Hold the exclusive lock of run folder ``directory`` (made if missing) for the ``with`` block.

    The lock is an ``fcntl.flock`` on ``directory/.lock``: the kernel drops it when the process ends,
    however it ends, so a killed run never leaves a stale lock. Tries for ``wait_s`` seconds.

    Raises:
        RunLockedError: another process holds it (the message names the folder and the holder).
    """
    import fcntl

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held across the yield
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise RunLockedError(f"{directory} is in use by another run ({holder or 'holder unknown'}). Two runs "
                                 "never write into one folder at once: wait for it to finish, or choose another "
                                 "--out.") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {now()}\n")
        handle.flush()
        yield directory
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def is_locked(directory: Path) -> bool:
    """Whether a live process holds ``directory``'s run lock (probed with a shared, non-blocking flock)."""
    import fcntl

    path = directory / LOCK_FILE
    if not path.is_file():
        return False
    with open(path, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False
