"""A results folder is read whole or refused: manifest, consistency, unreadable files.

Issue 13, cases 6 and 8: a truncated ``metrics.csv`` gave a report on 1 of 4 policies
with exit status 0; garbled or empty files raised pandas/yaml errors naming no file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocgym.backtest import Results, read_manifest, verify_manifest, write_manifest
from allocgym.backtest.results import RESULT_FILES
from allocgym.cli import main
from allocgym.exceptions import DataError

POLICIES = ["1/N", "Min-variance", "Mean-variance", "PPO"]
REMEDY = "re-run the `allocgym backtest` or `allocgym run`"


def _results() -> Results:
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2021-01-01", periods=40)
    r = pd.DataFrame(rng.normal(3e-4, 0.01, (40, 4)), index=idx, columns=POLICIES)
    w = rng.dirichlet(np.ones(3), 40)
    weights = {p: pd.DataFrame(w, index=idx, columns=["cash", "AAA", "BBB"]) for p in POLICIES}
    metrics = pd.DataFrame(
        {"kind": ["traditional"] * 3 + ["RL"], "sharpe": rng.normal(size=4),
         "fallbacks": [0, 1, 0, 0]}, index=pd.Index(POLICIES, name="policy"),
    )  # fmt: skip
    return Results(
        metrics=metrics, returns=r, gross_returns=r + 1e-4, costs=r * 0 + 1e-4,
        turnover=r * 0, weights=weights, fallbacks={"Min-variance": 1},
        config={"name": "t", "benchmark": "1/N"},
    )  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return _results().save(tmp_path / "run")


@pytest.fixture
def old_folder(folder: Path) -> Path:
    """A folder as written before manifests existed."""
    (folder / "manifest.json").unlink()
    return folder


def _truncate(path: Path, keep_lines: int | None = None, keep_bytes: int | None = None) -> None:
    data = path.read_bytes()
    if keep_lines is not None:
        data = b"".join(data.splitlines(keepends=True)[:keep_lines])
    path.write_bytes(data[:keep_bytes])


def test_a_clean_round_trip_is_verified(folder: Path) -> None:
    manifest = verify_manifest(folder)
    assert manifest is not None and list(manifest["files"]) == list(RESULT_FILES)
    entry = manifest["files"]["metrics.csv"]
    assert entry["bytes"] == (folder / "metrics.csv").stat().st_size
    assert len(entry["sha256"]) == 64 and entry["rows"] == 4
    assert manifest["files"]["returns.parquet"]["rows"] == 4 * 40
    assert "rows" not in manifest["files"]["config.yaml"]
    back = Results.load(folder)
    assert back.policies == POLICIES and list(back.metrics.index) == POLICIES
    pd.testing.assert_frame_equal(
        back.returns, _results().returns, check_freq=False, check_names=False
    )
    assert back.fallbacks == {"Min-variance": 1}
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_truncated_metrics_csv_is_refused_by_the_manifest(folder: Path) -> None:
    _truncate(folder / "metrics.csv", keep_lines=2)  # the header and 1 of 4 policies
    with pytest.raises(DataError) as err:
        Results.load(folder)
    msg = str(err.value)
    assert f"{folder} is damaged: metrics.csv: " in msg and "manifest.json records" in msg
    assert "truncated" in msg and REMEDY in msg


def test_an_experiment_folder_says_to_re_run_allocgym_run(folder: Path) -> None:
    (folder / "experiment.yaml").write_text("name: t\n")
    _truncate(folder / "metrics.csv", keep_lines=2)
    with pytest.raises(DataError, match=r"Re-run `allocgym run` .*saved models are reused"):
        Results.load(folder)


@pytest.mark.parametrize("keep_lines", [1, 2, 4])
def test_without_a_manifest_metrics_must_list_the_policies_of_returns(
    old_folder: Path, keep_lines: int
) -> None:
    _truncate(old_folder / "metrics.csv", keep_lines=keep_lines)  # cut at a line end
    with pytest.raises(DataError) as err:
        Results.load(old_folder)
    msg = str(err.value)
    assert msg.startswith(f"{old_folder / 'metrics.csv'}: no row for ")
    assert "returns.parquet, the source of truth, has the 4 policies" in msg and REMEDY in msg


def test_without_a_manifest_a_line_cut_off_is_refused(old_folder: Path) -> None:
    path = old_folder / "metrics.csv"
    text = path.read_bytes()
    _truncate(path, keep_bytes=len(text) - 1)  # no final newline: the last number may be cut
    with pytest.raises(DataError, match=r"metrics\.csv: line 5 is cut off"):
        Results.load(old_folder)
    _truncate(path, keep_bytes=len(text) - 20)  # fields lost on the last line
    with pytest.raises(DataError, match=r"metrics\.csv: line 5 is cut off"):
        Results.load(old_folder)
    _truncate(path, keep_lines=3)
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].rsplit(",", 1)[0] + "\n"  # a field lost mid-file
    path.write_text("".join(lines))
    with pytest.raises(DataError, match=r"metrics\.csv: line 2 is cut off"):
        Results.load(old_folder)


def test_without_a_manifest_metrics_of_a_foreign_policy_are_refused(old_folder: Path) -> None:
    path = old_folder / "metrics.csv"
    path.write_text(path.read_text().replace("PPO,", "SAC,"))
    with pytest.raises(DataError, match=r"no row for \['PPO'\] and rows for \['SAC'\]"):
        Results.load(old_folder)


def test_without_a_manifest_a_metric_that_is_no_number_is_refused(old_folder: Path) -> None:
    path = old_folder / "metrics.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace(",1\n", ",1x\n")  # Min-variance's fallbacks
    path.write_text("".join(lines))
    with pytest.raises(
        DataError, match=r"column 'fallbacks', policy 'Min-variance': '1x' is not a number"
    ):
        Results.load(old_folder)


def test_without_a_manifest_missing_weights_are_refused(old_folder: Path) -> None:
    w = pd.read_parquet(old_folder / "weights.parquet")
    w[w["policy"] != "PPO"].to_parquet(old_folder / "weights.parquet", index=False)
    with pytest.raises(DataError, match=r"weights\.parquet: no weights of \['PPO'\]"):
        Results.load(old_folder)


def test_a_flipped_byte_in_returns_parquet_is_a_hash_mismatch(folder: Path) -> None:
    path = folder / "returns.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"returns\.parquet: SHA-256 differs from manifest"):
        Results.load(folder)


def test_a_missing_file_is_named(folder: Path) -> None:
    (folder / "weights.parquet").unlink()
    with pytest.raises(DataError, match=r"weights\.parquet: missing \(listed in manifest"):
        Results.load(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing weights\.parquet\. Write the folder"):
        Results.load(folder)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("metrics.csv", b"", "the file is empty"),
        ("metrics.csv", b"\x00\xff\x13garbage\n", "cannot be read as a metrics table"),
        ("metrics.csv", b"a,b\n1,2\n", "cannot be read as a metrics table"),
        ("returns.parquet", b"", "cannot be read as a Parquet table"),
        ("returns.parquet", b"PAR1 not parquet at all", "cannot be read as a Parquet table"),
        ("weights.parquet", b"\x00" * 64, "cannot be read as a Parquet table"),
        ("config.yaml", b"name: [unclosed\nbenchmark: 1/N\n", "cannot be read as a YAML config"),
        ("config.yaml", b"- a list\n", "expected a mapping of settings, got list"),
        ("config.yaml", b"fallbacks: {PPO: many}\n", "cannot be read as a YAML config"),
    ],
)
def test_an_unreadable_file_is_named_with_the_remedy(
    old_folder: Path, name: str, content: bytes, message: str
) -> None:
    (old_folder / name).write_bytes(content)
    with pytest.raises(DataError) as err:
        Results.load(old_folder)
    msg = str(err.value)
    assert msg.startswith(f"{old_folder / name}: ") and message in msg and REMEDY in msg
    assert "<unicode string>" not in msg


def test_a_yaml_error_gives_the_line(old_folder: Path) -> None:
    (old_folder / "config.yaml").write_text("name: t\nbenchmark: [1/N\n")
    with pytest.raises(DataError, match=r'in ".*config\.yaml", line 3'):
        Results.load(old_folder)


def test_a_changed_file_is_refused_even_if_it_parses(folder: Path) -> None:
    (folder / "config.yaml").write_text("name: other\n")
    with pytest.raises(DataError, match=r"config\.yaml: \d+ bytes, manifest\.json records"):
        Results.load(folder)


def test_write_manifest_merges_entries_of_other_writers(folder: Path) -> None:
    (folder / "models").mkdir()
    (folder / "models" / "model.zip").write_bytes(b"weights")
    write_manifest(folder, ["models/model.zip"], extra={"models": 1})
    (folder / "report.md").write_text("# report\n")
    write_manifest(folder, ["report.md"], rows={"report.md": 1})
    manifest = verify_manifest(folder)
    assert list(manifest["files"]) == [*RESULT_FILES, "models/model.zip", "report.md"]
    assert manifest["extra"] == {"models": 1} and manifest["files"]["report.md"]["rows"] == 1
    Results.save(_results(), folder)  # saving the results again keeps the others' entries
    assert "models/model.zip" in read_manifest(folder)["files"]
    (folder / "models" / "model.zip").write_bytes(b"payload")
    with pytest.raises(DataError, match=r"models/model\.zip: SHA-256 differs.*Do this"):
        verify_manifest(folder, remedy="Do this")
    Results.load(folder)  # the results files are intact


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../outside.txt", "expected a file path relative to the run folder"),
        ("/etc/passwd", "expected a file path relative to the run folder"),
        ("manifest.json", "expected a file path relative to the run folder"),
        ("nope.md", r"nope\.md: cannot be recorded in manifest\.json: not a file"),
    ],
)
def test_write_manifest_records_only_files_inside_the_folder(
    folder: Path, name: str, message: str
) -> None:
    (folder.parent / "outside.txt").write_text("x")
    with pytest.raises(DataError, match=message):
        write_manifest(folder, [name])


def test_verify_manifest_refuses_a_name_it_does_not_list(folder: Path) -> None:
    (folder / "report.md").write_text("# report\n")
    with pytest.raises(DataError, match=r"report\.md: not listed in manifest\.json"):
        verify_manifest(folder, ["report.md"])
    assert verify_manifest(folder.parent) is None  # no manifest: nothing to check


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "unreadable manifest"),
        ('{"files": {}}', "not an allocgym manifest"),
        ('{"format": "allocgym-manifest", "version": 99, "files": {}}', "version 99"),
        ('{"format": "allocgym-manifest", "version": 1, "files": []}', "malformed manifest"),
    ],
)
def test_a_bad_manifest_is_named(folder: Path, text: str, message: str) -> None:
    (folder / "manifest.json").write_text(text)
    with pytest.raises(DataError, match=message) as err:
        Results.load(folder)
    assert str(folder / "manifest.json") in str(err.value)


def test_report_on_a_damaged_folder_exits_1_naming_the_file(folder: Path, capsys) -> None:
    _truncate(folder / "metrics.csv", keep_lines=2)
    assert main(["report", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("allocgym: error: ") and "metrics.csv" in err and REMEDY in err
    assert "Traceback" not in err
    assert not (folder / "report.md").exists()


def test_report_records_the_report_and_its_plots_in_the_manifest(folder: Path) -> None:
    assert main(["report", str(folder)]) == 0
    files = verify_manifest(folder)["files"]
    assert {"report.md", "equity.png", "weights_PPO.png"} <= set(files)
    assert json.loads((folder / "manifest.json").read_text())["version"] == 1


def test_labels_that_look_like_numbers_or_missing_values_round_trip(tmp_path: Path) -> None:
    res = _results()
    labels = ["1", "NA", "a,b", "None"]
    relabel = lambda df: df.set_axis(labels, axis=1)  # noqa: E731
    weights = dict(zip(labels, res.weights.values(), strict=True))
    res = Results(
        metrics=res.metrics.set_axis(labels), returns=relabel(res.returns),
        gross_returns=relabel(res.gross_returns), costs=relabel(res.costs),
        turnover=relabel(res.turnover), weights=weights, fallbacks={}, config={},
    )  # fmt: skip
    res.save(tmp_path)
    (tmp_path / "manifest.json").unlink()  # the consistency check compares the labels
    back = Results.load(tmp_path)
    assert list(back.metrics.index) == back.policies == labels
    assert back.metrics["sharpe"].dtype == float
