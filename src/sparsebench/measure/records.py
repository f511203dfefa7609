"""Result records and the JSON files that hold them.

A file is {"schema": 1, "records": [...]}. Every append rewrites the file atomically
(temporary file in the same directory, fsync, os.replace), so a run killed mid-write keeps
all records written before and never leaves a half-written file.
Appends take an exclusive lock (fcntl.flock on the file's folder), so
two runs appending to the same file at once both keep every record. A full disk raises
ResultsWriteError naming the file; the file keeps what it held before.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from .machine import machine_id

__all__ = [
    "SCHEMA",
    "make_record",
    "ResultStore",
    "load_records",
    "iter_result_files",
    "load_all",
    "default_results_path",
    "ResultsWriteError",
]

SCHEMA = 1


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _jsonable(obj):
    """Plain JSON types from what benchmarks naturally hold: Timing/PeakDelta (to_dict),
    tuples, numpy scalars, paths. Anything else is left for json to reject."""
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return _jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if type(obj).__module__ == "numpy" and hasattr(obj, "item"):  # numpy scalar
        return obj.item()
    return obj


def make_record(kind: str, case: dict, metrics: dict, machine: dict) -> dict:
    """A JSON-able result record. Raises TypeError now, not at save time, if it is not."""
    record = {
        "schema": SCHEMA,
        "kind": kind,
        "case": _jsonable(case),
        "metrics": _jsonable(metrics),
        "machine": _jsonable(machine),
        "created": _utc_now().isoformat(timespec="seconds"),
    }
    try:
        json.dumps(record)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"record of kind {kind!r} is not JSON-serialisable: {exc}") from exc
    return record


def _parse(path: Path, text: str) -> list[dict]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"corrupted result file {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise ValueError(f"not a sparsebench result file {path}: expected an object with 'records'")
    if data.get("schema") != SCHEMA:
        raise ValueError(f"result file {path} has schema {data.get('schema')!r}, expected {SCHEMA}")
    return data["records"]


def load_records(path) -> list[dict]:
    """The records in one result file; ValueError naming the file if it is corrupted."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"corrupted result file {path}: {exc}") from exc
    return _parse(path, text)


class ResultsWriteError(OSError):
    """A results file could not be written (disk full, read-only): the old file is intact."""


def _write_atomic(path: Path, data: dict) -> None:
    def write(f) -> None:
        json.dump(data, f, indent=1)
        f.write("\n")

    _atomic(path, write)


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive advisory lock for read-modify-write of ``path``: flock on its folder, so no
    lock file is left beside the results (released on exit or when the process dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so a reader sees the old file or the whole new one."""
    _atomic(path, lambda f: f.write(text))


def _atomic(path: Path, write) -> None:
    """``write(file)`` into a temporary beside ``path``, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same directory, so os.replace is a rename within one file system (atomic on POSIX).
    # The name starts with "." and ends in ".tmp" so a leftover is never read as a result.
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise ResultsWriteError(exc.errno, f"cannot write {path}: {os.strerror(exc.errno)}; "
                                               "the file keeps the records it held before") from exc
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable across a power loss; not possible on every OS.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class ResultStore:
    """An append-only list of records kept in one JSON file."""

    def __init__(self, path) -> None:
        self.path = Path(path)

    def records(self) -> list[dict]:
        return load_records(self.path) if self.path.exists() else []

    def append(self, record: dict) -> None:
        self.extend([record])

    def extend(self, records: list[dict]) -> None:
        # Under the lock, so a concurrent writer's records are read before this one writes;
        # a corrupted existing file raises here instead of being overwritten.
        with _locked(self.path):
            existing = self.records()
            _write_atomic(self.path, {"schema": SCHEMA, "records": existing + list(records)})

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r})"


def iter_result_files(results_dir) -> Iterator[Path]:
    """*.json files under results_dir, recursively, sorted; hidden files (temporaries) skipped."""
    root = Path(results_dir)
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*.json")):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            yield path


def load_all(results_dir) -> tuple[list[dict], list[tuple[Path, str]]]:
    """All records under results_dir, plus (path, error) for each file that could not be read,
    so one corrupted or partial file does not hide the others."""
    records: list[dict] = []
    errors: list[tuple[Path, str]] = []
    for path in iter_result_files(results_dir):
        try:
            records.extend(load_records(path))
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            errors.append((path, str(exc)))
    return records, errors


def _short_commit(machine: dict) -> str:
    git = machine.get("git") or {}
    commit = git.get("commit") if isinstance(git, dict) else None
    return commit[:12] if commit else "nocommit"


def default_results_path(results_dir, machine: dict) -> Path:
    """results_dir/<machine_id>/<UTC timestamp>-<short commit or nocommit>.json.
    The timestamp is the machine record's (taken at the start of a run), so every call in one
    run names the same file."""
    stamp = machine.get("timestamp")
    try:
        when = datetime.fromisoformat(stamp).astimezone(timezone.utc) if stamp else _utc_now()
    except (TypeError, ValueError):
        when = _utc_now()
    name = f"{when.strftime('%Y%m%dT%H%M%SZ')}-{_short_commit(machine)}.json"
    return Path(results_dir) / machine_id(machine) / name
