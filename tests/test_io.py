"""`atomic_write`: the whole file (or folder) or the old one, never a half-written one."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocgym._io import atomic_write


def _fail(tmp: str) -> None:
    Path(tmp).write_text("half a fi")
    raise RuntimeError("disk full")


def test_writes_the_content_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "new" / "out.txt"  # missing parents are created
    assert atomic_write(target, lambda p: Path(p).write_text("hello")) == target
    assert target.read_text() == "hello"
    atomic_write(target, lambda p: Path(p).write_text("again"))  # replaces
    assert target.read_text() == "again"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_temporary_is_in_the_same_folder(tmp_path: Path) -> None:
    seen: list[Path] = []
    atomic_write(tmp_path / "x.csv", lambda p: seen.append(Path(p)))
    assert seen[0].parent == tmp_path and seen[0] != tmp_path / "x.csv"


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_failure_keeps_the_old_file_and_removes_the_temporary(
    tmp_path: Path, exc: type[BaseException]
) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def write(tmp: str) -> None:
        Path(tmp).write_text("half a fi")
        raise exc("interrupted")

    with pytest.raises(exc, match="interrupted"):
        atomic_write(target, write)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_failure_without_an_old_file_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(tmp_path / "out.txt", _fail)
    assert list(tmp_path.iterdir()) == []


def test_folder_is_written_whole_and_replaces_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "agent"

    def fill(tmp: str) -> None:
        (Path(tmp) / "model.zip").write_bytes(b"zip")
        (Path(tmp) / "agent.json").write_text("{}")

    atomic_write(target, fill, folder=True)
    assert sorted(p.name for p in target.iterdir()) == ["agent.json", "model.zip"]
    (target / "stale.txt").write_text("from an older save")
    atomic_write(target, lambda tmp: (Path(tmp) / "model.zip").write_bytes(b"v2"), folder=True)
    assert [p.name for p in target.iterdir()] == ["model.zip"]
    assert (target / "model.zip").read_bytes() == b"v2"
    assert [p.name for p in tmp_path.iterdir()] == ["agent"]


def test_folder_failure_keeps_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "agent"
    target.mkdir()
    (target / "model.zip").write_bytes(b"old")

    def fill(tmp: str) -> None:
        (Path(tmp) / "model.zip").write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, fill, folder=True)
    assert (target / "model.zip").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["agent"]
