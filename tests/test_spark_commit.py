"""A warehouse commit interrupted at any step is finished or discarded as a whole.

`linksim.spark.commit` swaps staged table folders in after a ready mark; these tests lay out the
folders a crash leaves at each step (no Spark needed) and check what `recover` makes of them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import linksim
from linksim.errors import UsageError
from linksim.spark.commit import LOCK, READY, STAGING, recover, writer_lock
from linksim.warehouse import export_warehouse, import_warehouse, table_folder

TABLES = ("crm.person_field", "linksim.journal")


def _files(root: Path, name: str) -> list[str]:
    return sorted(p.name for p in table_folder(root, name).iterdir())


def _warehouse(tmp_path: Path) -> Path:
    root = tmp_path / "w"
    for name in TABLES:
        table_folder(root, name).mkdir(parents=True)
        (table_folder(root, name) / "old.parquet").write_text("old")
        staged = table_folder(root / STAGING, name)
        staged.mkdir(parents=True)
        (staged / "new.parquet").write_text("new")
    return root


def test_a_commit_without_its_ready_mark_is_discarded(tmp_path: Path) -> None:
    root = _warehouse(tmp_path)
    assert recover(root) == "discarded"
    assert not (root / STAGING).exists()
    assert all(_files(root, name) == ["old.parquet"] for name in TABLES)


@pytest.mark.parametrize("swapped", [0, 1, 2])
def test_a_ready_commit_is_finished_however_far_it_got(tmp_path: Path, swapped: int) -> None:
    root = _warehouse(tmp_path)
    (root / STAGING / READY).write_text(json.dumps(list(TABLES)))
    for name in TABLES[:swapped]:  # the crash came after this table's folders were swapped
        old = table_folder(root / STAGING / "_old", name)
        old.parent.mkdir(parents=True, exist_ok=True)
        table_folder(root, name).rename(old)
        table_folder(root / STAGING, name).rename(table_folder(root, name))
    assert recover(root) == "finished"
    assert not (root / STAGING).exists()
    assert all(_files(root, name) == ["new.parquet"] for name in TABLES)
    assert recover(root) is None


def test_a_crash_between_the_two_renames_of_a_table_is_finished(tmp_path: Path) -> None:
    root = _warehouse(tmp_path)
    (root / STAGING / READY).write_text(json.dumps(list(TABLES)))
    old = table_folder(root / STAGING / "_old", TABLES[0])
    old.parent.mkdir(parents=True)
    table_folder(root, TABLES[0]).rename(old)  # the table's folder is missing now
    assert recover(root) == "finished"
    assert all(_files(root, name) == ["new.parquet"] for name in TABLES)


@contextlib.contextmanager
def _another_process_writing(root: Path) -> Iterator[None]:
    # a lock of its own open file, as another process's would be
    with open(root / LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    held = pytest.raises(UsageError, match="another linksim is writing")
    with _another_process_writing(tmp_path), held, writer_lock(tmp_path):
        pass
    with writer_lock(tmp_path), writer_lock(tmp_path):  # released; and ours, held again
        pass
    missing = tmp_path / "missing"
    with pytest.raises(UsageError, match="no such warehouse directory"), writer_lock(missing):
        pass


def test_import_and_export_wait_for_the_writer_and_finish_its_commit(tmp_path: Path) -> None:
    con = linksim.connect(":memory:")
    export_warehouse(con, tmp_path / "w")
    con.execute("INSERT INTO crm.person (person_id, first_name) VALUES (1, 'Ann')").fetchall()
    export_warehouse(con, tmp_path / "newer")
    busy = pytest.raises(UsageError, match="another linksim")
    with _another_process_writing(tmp_path / "w"), busy:
        import_warehouse(linksim.connect(":memory:"), tmp_path / "w")
    # a commit of crm.person that a crash stopped after its ready mark
    staged = table_folder(tmp_path / "w" / STAGING, "crm.person")
    shutil.copytree(table_folder(tmp_path / "newer", "crm.person"), staged)
    (tmp_path / "w" / STAGING / READY).write_text(json.dumps(["crm.person"]))
    back = linksim.connect(":memory:")
    assert import_warehouse(back, tmp_path / "w")["crm.person"] == 1
    assert not (tmp_path / "w" / STAGING).exists()
