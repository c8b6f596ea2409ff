"""A run's market benchmark: ``report.market`` in YAML, ``--market`` of ``allocgym report``
and ``allocgym stress``, and the market columns of the report and of ``stress.md``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from allocgym.backtest import Results
from allocgym.cli import main
from allocgym.data import EMBEDDED_SOURCE, BenchmarkCoverageWarning
from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config, run_experiment
from allocgym.experiment.config import ReportConfig
from allocgym.risk.market import MarketSpec
from tests.helpers import CLI_TIMEOUT, tiny_experiment

N_DAYS = 700
INDEX_FROM = 330  # the index starts inside the out-of-sample days (they start at 300)
WINDOW = ("2001-06-29", "2001-09-28")


def _index_levels(market) -> pd.DataFrame:
    """Two index columns on the data's dates from day ``INDEX_FROM``, past its end too."""
    rng = np.random.default_rng(7)
    r = np.nan_to_num(market.returns[:N_DAYS]).mean(axis=1)
    spx = 0.9 * r + 0.004 * rng.standard_normal(len(r))
    dates = market.dates[:N_DAYS]
    extra = pd.bdate_range(dates[-1] + pd.offsets.BDay(), periods=5)
    frame = pd.DataFrame(
        {"SPX": 100 * np.cumprod(1 + np.r_[spx, np.zeros(5)]),
         "OTHER": np.linspace(50.0, 60.0, len(r) + 5)},
        index=dates.append(extra),
    )  # fmt: skip
    return frame.iloc[INDEX_FROM:].rename_axis("date")


@pytest.fixture(scope="module")
def index_csv(tmp_path_factory, synthetic_market):
    path = tmp_path_factory.mktemp("index") / "index.csv"
    _index_levels(synthetic_market).to_csv(path)
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, synthetic_market, index_csv):
    root = tmp_path_factory.mktemp("market")
    report = {"n_boot": 10, "market": {"source": str(index_csv), "column": "SPX"}}
    config = tiny_experiment(root, synthetic_market, N_DAYS, agents=[], report=report)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BenchmarkCoverageWarning)  # starts at day 330
        run_experiment(load_config(config), progress=False, verbose=False)
    return root / "runs" / "tiny"


def _index_returns(index_csv) -> pd.Series:
    levels = pd.read_csv(index_csv, index_col=0, parse_dates=True)["SPX"]
    return levels / levels.shift(1) - 1.0


# ---------------------------------------------------------------- config
def test_spellings_parse_and_auto_keeps_todays_default(index_csv):
    assert load_config({"baselines": [{"name": "equal_weight"}]}).report.market is None
    assert MarketSpec.parse(None).resolve(EMBEDDED_SOURCE).kind == "sp500"
    assert MarketSpec.parse(None).resolve("prices.csv").kind == "none"
    assert MarketSpec.parse("SP500").resolve("prices.csv").kind == "sp500"  # explicit wins
    assert MarketSpec.parse("none").resolve(EMBEDDED_SOURCE).kind == "none"
    as_text = MarketSpec.parse(f"{index_csv}:SPX")
    as_map = ReportConfig(market={"source": str(index_csv), "column": "SPX"}).market_spec()
    assert as_text == as_map == MarketSpec("file", str(index_csv), "SPX")
    assert as_map.name == "SPX (index.csv)"


@pytest.mark.parametrize(
    ("market", "match"),
    [({"source": "missing.csv"}, r"report.market: file 'missing.csv' not found"),
     ({"source": "INDEX", "column": "NOPE"}, r"no column 'NOPE'; found \['SPX', 'OTHER'\]"),
     ({"source": "INDEX"}, r"2 value columns \['SPX', 'OTHER'\]; pass column=NAME"),
     ({"source": "INDEX", "colum": "SPX"}, r"report.market: unknown key\(s\) \['colum'\]"),
     ({"column": "SPX"}, r"report.market.source: None is invalid"),
     ("INDEX:NOPE", r"no column 'NOPE'"),
     ([1, 2], r"report.market: \[1, 2\] is invalid; expected a value of type str or mapping")],
)  # fmt: skip
def test_a_bad_market_is_refused_at_load_naming_it(index_csv, market, match):
    def fill(v):
        return v.replace("INDEX", str(index_csv)) if isinstance(v, str) else v

    market = {k: fill(v) for k, v in market.items()} if isinstance(market, dict) else fill(market)
    config = {"baselines": [{"name": "equal_weight"}], "report": {"market": market}}
    with pytest.raises(ConfigError, match=match):
        load_config(config)


def test_an_index_without_common_dates_is_refused_once_the_data_is_known(
    index_csv, synthetic_market
):
    report = ReportConfig(market=f"{index_csv}:SPX")
    early = synthetic_market[: INDEX_FROM - 10]
    with pytest.raises(ConfigError, match=r"report.market .*has no dates overlapping the market.s"):
        report.check_market(early)
    with pytest.warns(BenchmarkCoverageWarning, match="covers 370 of the market's 700"):
        report.check_market(synthetic_market[:N_DAYS])  # overlaps, in part: fine
    ReportConfig(market="none").check_market(early)  # nothing to compare


def test_a_run_with_an_index_without_common_dates_fails_before_training(
    index_csv, synthetic_market, tmp_path
):
    config = tiny_experiment(tmp_path, synthetic_market, INDEX_FROM - 10,
                             walk_forward={"train": 150, "test": 100},
                             report={"n_boot": 10, "market": f"{index_csv}:SPX"})  # fmt: skip
    with pytest.raises(ConfigError, match=r"report.market .*has no dates overlapping"):
        run_experiment(load_config(config), progress=False, verbose=False)
    assert not (tmp_path / "runs" / "tiny" / "models").exists()


# ---------------------------------------------------------------- report.md
def test_a_user_index_flows_into_the_report_market_table(run_dir, index_csv):
    text = (run_dir / "report.md").read_text()
    risk = text[text.index("### Against SPX (index.csv)") : text.index("## Plots")]
    results = Results.load(run_dir)
    r = results.returns["1/N"]
    both = pd.concat([r, _index_returns(index_csv)], axis=1, join="inner").dropna()
    assert 0 < len(both) < len(r)  # the index starts inside the run
    a, b = both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy()
    te = np.std(a - b, ddof=1) * np.sqrt(252)
    beta = np.cov(a, b, ddof=1)[0, 1] / np.var(b, ddof=1)
    row = next(line for line in risk.splitlines() if line.startswith("| 1/N |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == f"{te:.1%}" and cells[4] == f"{beta:.2f}"
    assert f"On the {len(both)} of {len(r)} out-of-sample days that the index covers." in risk


def test_report_market_option_chooses_or_removes_the_index(run_dir, tmp_path, capsys):
    copy = shutil.copytree(run_dir, tmp_path / "tiny")
    assert main(["report", str(copy), "--market", "none"]) == 0
    assert "### Against" not in (copy / "report.md").read_text()
    assert main(["report", str(copy), "--market", "sp500"]) == 0
    assert "### Against the S&P 500 index (price index)" in (copy / "report.md").read_text()
    assert main(["report", str(copy)]) == 0  # back to the run's own report.market
    assert "### Against SPX (index.csv)" in (copy / "report.md").read_text()
    assert main(["report", str(copy), "--market", "nope.csv"]) == 1
    assert "--market: file 'nope.csv' not found" in capsys.readouterr().err


# ---------------------------------------------------------------- stress.md
def _table(text: str, section: str) -> tuple[list[str], dict[str, list[str]]]:
    """Header and rows (by ``window|policy``) of the first table after ``section``."""
    lines = text[text.index(section) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| window |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[f"{cells[0]}|{cells[1]}"] = cells
    return header, rows


def test_stress_gets_the_market_column_and_none_removes_it(run_dir, index_csv, tmp_path):
    copy = shutil.copytree(run_dir, tmp_path / "tiny")
    windows = tmp_path / "w.yaml"
    windows.write_text(f"windows:\n  mid 2001: [{WINDOW[0]}, {WINDOW[1]}]\n")
    base = [sys.executable, "-m", "allocgym.cli", "stress", str(copy), "--paths", "20",
            "--horizon", "3", "--windows", str(windows)]  # fmt: skip
    proc = subprocess.run(base, capture_output=True, text=True, timeout=CLI_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    text = (copy / "stress.md").read_text()
    b = _index_returns(index_csv)
    expected = float(np.prod(1 + b[(b.index > WINDOW[0]) & (b.index <= WINDOW[1])]) - 1)
    for section in ("## Historical stress windows", "## Replay"):
        header, rows = _table(text, section)
        assert header[-2:] == ["vs_SPX", "market"], header
        cells = rows["mid 2001|1/N"]
        ret = float(np.prod(1 + _policy_window(copy, "1/N"))) - 1 if "Hist" in section else None
        assert cells[-1] == f"{expected:+.1%}"
        if ret is not None:
            assert cells[-2] == f"{ret - expected:+.1%}"
    assert "market: the return of SPX (index.csv) over the same window" in text

    assert main(["stress", str(copy), "--paths", "20", "--horizon", "3", "--windows",
                 str(windows), "--market", "none"]) == 0  # fmt: skip
    text = (copy / "stress.md").read_text()
    for section in ("## Historical stress windows", "## Replay"):
        header, _ = _table(text, section)
        assert "market" not in header and "vs_SPX" not in header


def _policy_window(run_dir, policy: str) -> np.ndarray:
    r = Results.load(run_dir).returns[policy]
    return r[(r.index > WINDOW[0]) & (r.index <= WINDOW[1])].to_numpy()
