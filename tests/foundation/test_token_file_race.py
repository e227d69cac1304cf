"""Workers sharing a directory start at once: one operator token file, read whole by all."""

from __future__ import annotations

import threading
from pathlib import Path

from shared.tokens import ensure_token_file


def _start_worker(path: Path, start: threading.Barrier, seen: list[object]) -> None:
    start.wait()
    try:
        seen.append(tuple((t.name, t.token) for t in ensure_token_file(path)))
    except Exception as exc:  # what a worker would die of
        seen.append(exc)


def test_workers_starting_at_once_make_one_token_file_and_all_read_it(tmp_path: Path) -> None:
    for attempt in range(30):
        path = tmp_path / str(attempt) / "operator.token"
        start = threading.Barrier(8)
        seen: list[object] = []
        threads = [threading.Thread(target=_start_worker, args=(path, start, seen)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not [s for s in seen if isinstance(s, Exception)], seen
        assert len(set(seen)) == 1 and len(seen[0]) == 1, seen  # type: ignore[arg-type]
        assert [p.name for p in path.parent.iterdir()] == ["operator.token"]  # no draft left behind
