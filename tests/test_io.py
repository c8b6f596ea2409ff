"""`atomic_write`: the whole file (or folder) or the old one, never a half-written one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from allocgym._io import atomic_write, read_yaml_mapping
from allocgym.exceptions import ConfigError


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


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_results_get_the_users_umask_not_the_temporarys_0600(tmp_path: Path, mask: int) -> None:
    import os

    old = os.umask(mask)
    try:
        f = atomic_write(tmp_path / "f.csv", lambda p: Path(p).write_text("x"))
        d = atomic_write(tmp_path / "d", lambda p: (Path(p) / "a").write_text("x"), folder=True)
    finally:
        os.umask(old)
    assert f.stat().st_mode & 0o777 == 0o666 & ~mask
    assert d.stat().st_mode & 0o777 == 0o777 & ~mask
    assert os.umask(old) == old  # the process's umask is left as it was


@pytest.mark.parametrize(
    ("text", "slug"),
    [("PPO s0", "PPO_s0"), ("..", "_.."), (".", "_."), ("", "_"), ("../../x/evil", ".._.._x_evil"),
     ("a\\b", "a_b"), ("a\nb", "a_b"), ("/abs", "_abs"), ("ok-1.v2", "ok-1.v2")],
)  # fmt: skip
def test_safe_component_stays_inside_its_parent(tmp_path: Path, text: str, slug: str) -> None:
    from allocgym._io import safe_component

    assert safe_component(text) == slug
    child = (tmp_path / safe_component(text)).resolve()
    assert child.parent == tmp_path.resolve()


@pytest.mark.parametrize(
    ("text", "why"),
    [("", "empty"), (".", "above or at"), ("..", "above or at"), ("a/b", "separator"),
     ("a\\b", "separator"), ("/etc", "separator"), ("a\x00b", "control"), ("a\tb", "control"),
     ("C:x", "drive"), (" x", "spaces"), (None, "empty")],
)  # fmt: skip
def test_check_component_refuses_what_is_not_one_folder_name(text, why: str) -> None:
    from allocgym._io import check_component

    assert why in check_component(text)
    assert check_component("quickstart-2") is None and check_component("PPO s0") is None


# ---------------------------------------------------------------- read_yaml_mapping
@pytest.mark.parametrize(
    ("text", "match"),
    [("a: [1, 2\n", r"cannot read the thing \(invalid YAML: expected ',' or '\]', but got "
                   r"'<stream end>' at line 2, column 1\)"),
     ("- a\n- b\n", r"the thing is not a mapping \(a list\)"),
     (b"\xff\xfe: 1\n", r"cannot read the thing \(UnicodeDecodeError")],
)  # fmt: skip
def test_read_yaml_mapping_names_the_file_and_the_remedy(tmp_path, text, match):
    path = tmp_path / "x.yaml"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: {match}.*; do this$"):
        read_yaml_mapping(path, "the thing", "do this")


def test_read_yaml_mapping_reads_a_mapping_and_an_empty_file(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\nb: [2, 3]\n")
    assert read_yaml_mapping(path, "the thing", "do this") == {"a": 1, "b": [2, 3]}
    path.write_text("")
    assert read_yaml_mapping(path, "the thing", "do this") == {}
    with pytest.raises(ConfigError, match=r"cannot read the thing \(FileNotFoundError"):
        read_yaml_mapping(tmp_path / "missing.yaml", "the thing", "do this")
