"""What the worker process sets up about itself before it serves: private files and enough descriptors.

The data directory holds Concur tokens, the Web Connector password hash, raw webhook bodies and the
logs, so on POSIX it is 0700 and everything in it 0600 (the umask covers files made later: the
SQLite -wal/-shm files, rotated logs). On Windows the files inherit the ACL of the user's profile
folder, which already keeps other users out; nothing is changed there.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

POSIX = os.name == "posix"
WANTED_DESCRIPTORS = 8192


def make_private(data_dir: Path, token_file: Path) -> None:
    """umask 077 for everything this process creates from now on; tighten what already exists."""
    if not POSIX:
        return
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    for path in data_dir.rglob("*"):
        if path.is_symlink():
            continue
        path.chmod(0o700 if path.is_dir() else 0o600)
    if token_file.exists():
        token_file.chmod(0o600)


def raise_descriptor_limit(wanted: int = WANTED_DESCRIPTORS) -> int | None:
    """Raise the soft RLIMIT_NOFILE towards the hard one (many distros start services at 1024)."""
    if not POSIX:
        return None
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d: %s", soft, exc)
    return soft
