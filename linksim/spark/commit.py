"""Commit changed warehouse tables all at once: staged folders, a ready mark, then renames.

A warehouse has no transaction log, so a commit is made of steps that can each be finished or
undone after a crash:

1. each changed table is written whole to ``DIR/_commit/<schema>/<table>/``;
2. ``DIR/_commit/READY.json`` names them: the commit point;
3. each table folder is swapped for its staged one (the old one goes to ``DIR/_commit/_old/``);
4. ``DIR/_commit`` is removed.

`recover`, run under `writer_lock` before linksim reads the warehouse (an apply, a preview,
`linksim import` and `export`), finishes a commit that has its ready mark (steps 3 and 4) and
discards one that has not: linksim reads every table of a commit or none. The warehouse must be
a local or mounted directory that the driver and the executors share, on a file system with
atomic renames and working `flock` (a local disk, NFS v4; not every network file system).

>>> import tempfile
>>> recover(tempfile.mkdtemp()) is None
True
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from linksim.errors import UsageError
from linksim.warehouse import table_folder

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["commit", "committed", "recover", "writer_lock"]

STAGING = "_commit"
READY = "READY.json"
LOCK = "_linksim.lock"


def commit(directory: str | os.PathLike[str], frames: Mapping[str, DataFrame]) -> None:
    """Replace the tables ``frames`` names (``crm.person_field``…) by those frames, together."""
    if not frames:
        return
    root = Path(directory)
    recover(root)  # an earlier commit a crash interrupted: finished or discarded first
    staging = root / STAGING
    for name, frame in frames.items():
        frame.write.mode("overwrite").parquet(table_folder(staging, name).resolve().as_uri())
    missing = [n for n in frames if not (table_folder(staging, n) / "_SUCCESS").exists()]
    if missing:  # the folders must be where the renames look for them
        raise UsageError(
            f"{root}: Spark wrote {', '.join(missing)} somewhere else than the driver sees; "
            "the warehouse must be a directory every executor and the driver share"
        )
    ready = staging / READY
    partial = staging / (READY + ".partial")
    partial.write_text(json.dumps(sorted(frames)) + "\n")
    os.replace(partial, ready)  # the commit point
    _swap(root, sorted(frames))


def committed(directory: str | os.PathLike[str]) -> bool:
    """Whether a commit has passed its commit point and not finished (`recover` finishes it)."""
    return (Path(directory) / STAGING / READY).exists()


def recover(directory: str | os.PathLike[str]) -> str | None:
    """Finish or discard a commit a crash interrupted: "finished", "discarded" or None."""
    root = Path(directory)
    staging = root / STAGING
    if not staging.exists():
        return None
    ready = staging / READY
    if not ready.exists():
        shutil.rmtree(staging)
        return "discarded"
    _swap(root, json.loads(ready.read_text()))
    return "finished"


def _swap(root: Path, names: list[str]) -> None:
    staging = root / STAGING
    for name in names:
        staged = table_folder(staging, name)
        if not staged.exists():  # swapped in before the crash
            continue
        target = table_folder(root, name)
        if target.exists():
            old = table_folder(staging / "_old", name)
            old.parent.mkdir(parents=True, exist_ok=True)
            target.rename(old)
        staged.rename(target)
    shutil.rmtree(staging)


# the warehouses this process holds the lock of: a block inside another one holds it already
_HELD: set[Path] = set()


@contextlib.contextmanager
def writer_lock(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block; refuse when another process holds it."""
    if not Path(directory).is_dir():
        raise UsageError(f"{directory}: no such warehouse directory; `linksim export` writes one")
    path = (Path(directory) / LOCK).resolve()
    if path in _HELD:
        yield
        return
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"{directory}: another linksim is writing to this warehouse (it holds {path}); "
                "wait for it to finish"
            ) from None
        _HELD.add(path)
        try:
            yield
        finally:
            _HELD.discard(path)
            fcntl.flock(handle, fcntl.LOCK_UN)
