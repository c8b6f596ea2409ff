"""Mutation testing of allocgym's core: plant small bugs, count the ones the tests catch.

For every target module the script

1. runs the module's tests once under ``coverage`` with one context per test function,
   so it knows which tests execute each line;
2. generates mutants from the syntax tree: arithmetic (``+``/``-``, ``*``/``/``, ``**``),
   comparisons (``<``/``<=``, ``>``/``>=``, ``==``/``!=``, ``is``, ``in``), ``and``/``or``,
   dropped unary ``-``/``not``, numbers ``n -> n + 1``, ``True``/``False``, augmented
   assignments, ``min``/``max`` swaps, and deleted in-place statements (a call used for
   its side effect, ``x[...] = ...``, ``obj.attr = ...``, ``x += ...``). Error messages
   (``raise`` statements), docstrings, annotations and f-strings are not mutated;
3. runs, for each mutant, only the tests that cover its line (all of the module's tests
   for lines run at import time), in a process forked from one that has already imported
   the heavy dependencies, so a mutant costs the tests plus importing allocgym. A mutant
   those tests let live is run once more against all of the module's tests: coverage
   credits a line run inside a module-scoped fixture to the first test that used the
   fixture, which need not be the test that checks what the line computed;
4. prints the score, ``killed / (mutants - equivalent)``, and every survivor.

Mutants judged equivalent (no test can tell them apart from the original) are listed with
the reason in ``benchmarks/mutation_equivalent/*.yaml``, keyed by module, function, kind
and the mutated source line, and left out of the score.

The working tree is never modified: mutants are written into a scratch copy.

Run (on demand, not in CI; minutes to an hour depending on the targets)::

    python benchmarks/mutation.py                          # every core target
    python benchmarks/mutation.py allocgym/envs/costs.py   # one module
    python benchmarks/mutation.py --list                   # the targets and their tests
    python benchmarks/mutation.py --workers 2 --max-mutants 50 --seed 1
    python benchmarks/mutation.py --head                   # the last commit, not the tree
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT_DIR = ROOT / "benchmarks" / "mutation_equivalent"  # one YAML file per area

# module (optionally ":function,function" to mutate only those functions) -> its tests
TARGETS: dict[str, list[str]] = {
    "allocgym/envs/accounting.py": ["tests/envs", "tests/test_invariants.py"],
    "allocgym/envs/costs.py": ["tests/envs", "tests/test_invariants.py"],
    "allocgym/envs/portfolio.py": ["tests/envs", "tests/test_invariants.py"],
    "allocgym/envs/vector.py": ["tests/envs"],
    "allocgym/envs/_setup.py": ["tests/envs", "tests/test_invariants.py"],
    "allocgym/envs/actions.py": ["tests/envs"],
    "allocgym/envs/observation.py": ["tests/envs", "tests/test_invariants.py"],
    "allocgym/envs/rewards.py": ["tests/envs"],
    "allocgym/envs/track.py": ["tests/envs", "tests/backtest/test_engine.py"],
    "allocgym/envs/rebalancing.py": ["tests/envs"],
    "allocgym/envs/settings.py": ["tests/envs", "tests/experiment/test_config.py"],
    "allocgym/backtest/engine.py": ["tests/backtest", "tests/test_invariants.py"],
    "allocgym/backtest/stats.py": ["tests/backtest"],
    "allocgym/backtest/splitter.py": ["tests/backtest"],
    "allocgym/baselines/optimizer.py": ["tests/baselines"],
    "allocgym/baselines/black_litterman.py": ["tests/baselines"],
    "allocgym/experiment/runner.py": ["tests/experiment", "tests/test_invariants.py"],
    "allocgym/agents/policy.py": ["tests/agents", "tests/experiment/test_runner.py"],
    "allocgym/sweep/trial.py": ["tests/sweep"],
    "allocgym/agents/networks.py": ["tests/agents", "tests/envs/test_checkers.py"],
    "allocgym/_threads.py": ["tests/test_threads.py", "tests/experiment/test_runner_behaviour.py"],
    "allocgym/experiment/run_folder.py": [
        "tests/experiment/test_run_folder.py",
        "tests/experiment/test_run_folder_lock.py",
        "tests/experiment/test_runner_behaviour.py",
        "tests/experiment/test_runner.py",
        "tests/agents/test_model_files.py",
    ],
    "allocgym/agents/model_file.py": ["tests/agents"],
}

_BINOP_SWAP = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
    ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr,
}  # fmt: skip
_CMP_SWAP = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}  # fmt: skip
_MINMAX = {"min": "max", "max": "min", "minimum": "maximum", "maximum": "minimum",
           "argmin": "argmax", "argmax": "argmin", "fmin": "fmax", "fmax": "fmin"}  # fmt: skip


@dataclass
class Mutant:
    module: str
    line: int
    end_line: int
    function: str
    kind: str
    source: str = field(repr=False)  # the whole mutated module
    mutated_line: str = ""
    status: str = "pending"  # killed / survived / uncovered / timeout / equivalent

    @property
    def key(self) -> str:
        # no line number: the key survives edits elsewhere in the module
        return f"{self.module}:{self.function}:{self.kind}:{self.mutated_line.strip()}"


# ---------------------------------------------------------------------- mutant generation
class _Finder(ast.NodeVisitor):
    """Collect (node, kind, replacement-builder) sites, skipping code that is only text."""

    def __init__(self, functions: set[str] | None) -> None:
        self.sites: list[tuple[ast.AST, str, str]] = []
        self.functions = functions
        self._fn: list[str] = []

    def _active(self) -> bool:
        return self.functions is None or bool(set(self._fn) & self.functions)

    def current(self) -> str:
        return self._fn[-1] if self._fn else "<module>"

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._fn.append(node.name)
        for sub in node.decorator_list:
            self.visit(sub)
        for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(d)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        for stmt in body:
            self.visit(stmt)
        self._fn.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._fn.append(node.name)
        for stmt in node.body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue
            if isinstance(stmt, ast.AnnAssign) and stmt.value is None:
                continue  # dataclass field declaration
            self.visit(stmt)
        self._fn.pop()

    def _skip(self, node: ast.AST) -> None:
        """Text, type hints and error paths: nothing worth mutating."""

    visit_Raise = _skip  # type: ignore[assignment]
    visit_JoinedStr = _skip  # type: ignore[assignment]
    visit_Import = _skip  # type: ignore[assignment]
    visit_ImportFrom = _skip  # type: ignore[assignment]
    visit_Assert = _skip  # type: ignore[assignment]

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if names in (["__all__"], ["__slots__"]):
            return
        if self._active() and any(
            isinstance(t, ast.Subscript | ast.Attribute) for t in node.targets
        ):
            self.sites.append((node, "delete", self.current()))
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if self._active():
            self.sites.append((node, "delete", self.current()))
            if type(node.op) in _BINOP_SWAP:
                self.sites.append((node, "augop", self.current()))
        self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        if self._active() and isinstance(node.value, ast.Call):
            self.sites.append((node, "delete", self.current()))
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if self._active() and type(node.op) in _BINOP_SWAP:
            self.sites.append((node, "binop", self.current()))
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        if self._active():
            for i, op in enumerate(node.ops):
                if type(op) in _CMP_SWAP:
                    self.sites.append((node, f"compare{i}", self.current()))
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        if self._active():
            self.sites.append((node, "boolop", self.current()))
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        literal = isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
        if self._active() and isinstance(node.op, ast.USub | ast.Not | ast.Invert) and not literal:
            self.sites.append((node, "unary", self.current()))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if self._active() and isinstance(node.value, bool | int | float):
            self.sites.append((node, "number", self.current()))

    def visit_Call(self, node: ast.Call) -> None:
        fn = node.func
        name = (
            fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
        )
        if self._active() and name in _MINMAX:
            self.sites.append((node, "minmax", self.current()))
        self.generic_visit(node)


def _mutate_node(node: ast.AST, kind: str) -> ast.AST | None:
    new = copy.deepcopy(node)
    if kind in ("binop", "augop"):
        new.op = _BINOP_SWAP[type(node.op)]()
    elif kind.startswith("compare"):
        i = int(kind[7:])
        new.ops[i] = _CMP_SWAP[type(node.ops[i])]()
    elif kind == "boolop":
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "unary":
        return new.operand
    elif kind == "number":
        v = node.value
        new.value = (not v) if isinstance(v, bool) else v + 1
    elif kind == "minmax":
        fn = new.func
        if isinstance(fn, ast.Name):
            fn.id = _MINMAX[fn.id]
        else:
            fn.attr = _MINMAX[fn.attr]
    else:
        return None
    return new


def _splice(lines: list[str], node: ast.AST, text: str) -> list[str]:
    """Replace the source span of ``node`` with ``text``."""
    l0, c0, l1, c1 = node.lineno - 1, node.col_offset, node.end_lineno - 1, node.end_col_offset
    head = lines[l0].encode()[:c0].decode()
    tail = lines[l1].encode()[c1:].decode()
    return [*lines[:l0], head + text + tail, *lines[l1 + 1 :]]


def generate(module: str, functions: set[str] | None = None, root: Path = ROOT) -> list[Mutant]:
    """Every mutant of ``module`` (a path relative to ``root``, the repository's copy)."""
    source = (root / module).read_text()
    tree = ast.parse(source)
    finder = _Finder(functions)
    finder.visit(tree)
    lines = source.splitlines(keepends=True)
    out = []
    for node, kind, fn in finder.sites:
        if kind == "delete":
            indent = lines[node.lineno - 1][: node.col_offset]
            if indent.strip():  # statement shares its line: not worth a special case
                continue
            new_lines = [*lines[: node.lineno - 1], indent + "pass\n", *lines[node.end_lineno :]]
            text = "pass"
        else:
            new = _mutate_node(node, kind)
            if new is None:
                continue
            text = "(" + ast.unparse(new) + ")"
            new_lines = _splice(lines, node, text)
        mutated = "".join(new_lines)
        try:
            compile(mutated, module, "exec")
        except SyntaxError:
            continue
        shown = new_lines[node.lineno - 1].rstrip("\n")
        if kind == "delete":  # name the statement that went, not the 'pass' that replaced it
            shown = f"pass  # deleted: {lines[node.lineno - 1].strip()}"
        out.append(Mutant(module, node.lineno, node.end_lineno, fn, kind, mutated, shown))
    return out


# ---------------------------------------------------------------------- test selection
# what the tests read: the package, the tests, and the example configs/scripts and README
# that tests/experiment checks
_COPIED = ("allocgym", "tests", "experiments", "README.md", "pyproject.toml")


def _scratch(head: bool = False) -> Path:
    """A copy of the package and tests: the working tree, or the last commit (``head``).

    Mutants are generated from this copy too, so edits made while the script runs
    cannot put coverage and mutants out of step.
    """
    tmp = Path(tempfile.mkdtemp(prefix="allocgym-mut-"))
    if head:
        archive = subprocess.run(
            ["git", "archive", "HEAD", *_COPIED],
            cwd=ROOT, capture_output=True, check=True,
        ).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        return tmp
    for name in _COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, tmp / name)
    return tmp


def _env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(scratch),
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        ALLOCGYM_CACHE_DIR=str(scratch / ".cache"),
        PYTHONHASHSEED="0",
    )
    return env


def line_tests(scratch: Path, module: str, tests: list[str]) -> tuple[dict[int, set[str]], float]:
    """Which test functions execute each line of ``module``; and the tests' run time."""
    rc = scratch / ".coveragerc"
    rc.write_text(
        f"[run]\ndynamic_context = test_function\nsource = allocgym\n"
        f"data_file = {scratch / '.coverage'}\n"
    )
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "coverage",
            "run",
            f"--rcfile={rc}",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            *tests,
        ],
        cwd=scratch,
        env=_env(scratch),
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:  # a score measured on failing tests would mean nothing
        raise SystemExit(
            f"{module}: its tests fail before any mutant is planted ({' '.join(tests)}):\n"
            + done.stdout[-3000:]
        )
    import coverage

    data = coverage.CoverageData(basename=str(scratch / ".coverage"))
    data.read()
    path = str(scratch / module)
    by_line: dict[int, set[str]] = {}
    for line, contexts in (data.contexts_by_lineno(path) or {}).items():
        by_line[line] = {c for c in contexts if c}
    (scratch / ".coverage").unlink(missing_ok=True)
    return by_line, elapsed


def _node_ids(contexts: set[str], scratch: Path) -> list[str]:
    """``tests.envs.test_costs.TestX.test_y`` -> ``tests/envs/test_costs.py::TestX::test_y``."""
    ids = set()
    for ctx in contexts:
        parts = ctx.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            path = scratch.joinpath(*parts[:cut]).with_suffix(".py")
            if path.exists():
                ids.add(str(path.relative_to(scratch)) + "::" + "::".join(parts[cut:]))
                break
    return sorted(ids)


# ---------------------------------------------------------------------- running mutants
# A long-lived worker per scratch copy: it imports the heavy dependencies once (never
# allocgym), then forks one child per mutant; the child imports allocgym from the scratch
# copy (where the mutant was just written) and runs pytest. Saves ~3 s per mutant.
_SERVER = r"""
import json, os, signal, sys, time
import numpy, pandas, scipy, torch, gymnasium, stable_baselines3, cvxpy, arch, hmmlearn
import yaml, pytest, hypothesis
assert "allocgym" not in sys.modules
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        try:
            rc = pytest.main(job["args"])
        except BaseException:
            rc = 99
        os._exit(int(rc))
    deadline = time.monotonic() + job["timeout"]
    status = None
    while status is None:
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(code)
        elif time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = "timeout"
        else:
            time.sleep(0.02)
    try:
        os.killpg(pid, signal.SIGKILL)  # whatever the tests left running
    except ProcessLookupError:
        pass
    print(json.dumps(status), flush=True)
"""


class Worker:
    """A forking pytest server bound to one scratch copy."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            cwd=scratch,
            env=_env(scratch),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, tests: list[str], timeout: float) -> int | str:
        args = ["-q", "-x", "-p", "no:cacheprovider", "-p", "no:xdist", *tests]
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"args": args, "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def run_mutant(mutant: Mutant, tests: list[str], worker: Worker, timeout: float) -> str:
    target = worker.scratch / mutant.module
    original = target.read_text()
    target.write_text(mutant.source)
    try:
        rc = worker.run(tests, timeout)
    finally:
        target.write_text(original)
        for cached in (target.parent / "__pycache__").glob(target.stem + ".*.pyc"):
            cached.unlink()
    if rc == "timeout":
        return "timeout"
    return "survived" if rc == 0 else "killed"


Job = tuple[Mutant, list[str], list[str]]  # the mutant, the tests covering it, all its tests


def _run_all(jobs: list[Job], workers: list[Worker], timeout: float) -> None:
    """Test the mutants, one scratch copy per worker; print one mark per mutant.

    A survivor of its covering tests is run again against all of the module's tests
    (see the module docstring: fixture-scoped lines are credited to one test only)."""
    free: queue.SimpleQueue[Worker] = queue.SimpleQueue()
    for w in workers:
        free.put(w)

    def one(job: Job) -> Mutant:
        mutant, tests, every = job
        worker = free.get()
        try:
            mutant.status = run_mutant(mutant, tests, worker, timeout)
            if mutant.status == "survived" and sorted(tests) != sorted(every):
                mutant.status = run_mutant(mutant, every, worker, timeout)
        finally:
            free.put(worker)
        return mutant

    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        for i, m in enumerate(pool.map(one, jobs), 1):
            print({"killed": ".", "timeout": "t"}.get(m.status, "S"), end="", flush=True)
            if i % 60 == 0:
                print(flush=True)


def _equivalents() -> dict[str, str]:
    """``key -> why`` from every ``benchmarks/mutation_equivalent/*.yaml``."""
    found: dict[str, str] = {}
    for path in sorted(EQUIVALENT_DIR.glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text()) or []:
            if not str(entry.get("why", "")).strip():
                raise SystemExit(f"{path}: equivalent mutant {entry.get('key')!r} has no 'why'")
            found[entry["key"]] = entry["why"]
    return found


def _parse_target(spec: str) -> tuple[str, set[str] | None]:
    module, _, fns = spec.partition(":")
    return module, (set(fns.split(",")) if fns else None)


def _targets(args: argparse.Namespace) -> Iterator[tuple[str, set[str] | None, list[str]]]:
    specs = args.modules or list(TARGETS)
    for spec in specs:
        module, fns = _parse_target(spec)
        tests = next((v for k, v in TARGETS.items() if _parse_target(k)[0] == module), None)
        if tests is None:
            raise SystemExit(f"no tests mapped for {module!r}; known: {sorted(TARGETS)}")
        yield module, fns, tests


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", help="module[:fn,fn] paths (default: every target)")
    ap.add_argument("--max-mutants", type=int, default=None, help="sample per module (seeded)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1, help="mutants tested at once")
    ap.add_argument("--list", action="store_true", help="print the targets and exit")
    ap.add_argument("--head", action="store_true", help="test the last commit, not the tree")
    ap.add_argument("--json", type=Path, default=None, help="write every mutant's result here")
    args = ap.parse_args(argv)
    if args.list:
        for module, tests in TARGETS.items():
            print(f"{module:45s} {' '.join(tests)}")
        return 0
    equivalent = _equivalents()
    scratches = [_scratch(args.head) for _ in range(max(1, args.workers))]
    workers = [Worker(path) for path in scratches]
    scratch = scratches[0]
    results: list[Mutant] = []
    try:
        for module, fns, tests in _targets(args):
            mutants = generate(module, fns, scratch)
            if args.max_mutants and len(mutants) > args.max_mutants:
                mutants = random.Random(args.seed).sample(mutants, args.max_mutants)
                mutants.sort(key=lambda m: m.line)
            by_line, base = line_tests(scratch, module, tests)
            timeout = max(60.0, 5 * base)
            print(f"\n{module}: {len(mutants)} mutants, tests take {base:.0f} s", flush=True)
            jobs: list[Job] = []
            for m in mutants:
                if m.key in equivalent:
                    m.status = "equivalent"
                    continue
                covering: set[str] = set()
                for line in range(m.line, m.end_line + 1):
                    covering |= by_line.get(line, set())
                if covering:
                    jobs.append((m, _node_ids(covering, scratch) or tests, tests))
                elif m.line in by_line:  # executed at import time only: every test
                    jobs.append((m, tests, tests))
                else:
                    m.status = "uncovered"
            _run_all(jobs, workers, timeout)
            results.extend(mutants)
            _summary(mutants, module, survivors=True)
            if args.json:  # written after every module, so a long run can be read as it goes
                _write_json(args.json, results)
    finally:
        for w in workers:
            w.close()
        for path in scratches:
            shutil.rmtree(path, ignore_errors=True)
    print("\n== all targets ==")
    score = _summary(results, "total")
    if args.json:
        _write_json(args.json, results)
    return 0 if score is not None else 1


def _write_json(path: Path, results: list[Mutant]) -> None:
    path.write_text(
        json.dumps(
            [{"key": m.key, "status": m.status, "function": m.function} for m in results],
            indent=1,
        )
    )


def _summary(mutants: list[Mutant], title: str, survivors: bool = False) -> float | None:
    count = {
        s: sum(m.status == s for m in mutants)
        for s in ("killed", "timeout", "survived", "uncovered", "equivalent")
    }
    scored = len(mutants) - count["equivalent"]
    killed = count["killed"] + count["timeout"]
    score = killed / scored if scored else None
    shown = "n/a" if score is None else f"{100 * score:.1f} %"
    print(
        f"\n{title}: {shown} killed ({killed}/{scored}; survived {count['survived']}, "
        f"uncovered {count['uncovered']}, equivalent {count['equivalent']})",
        flush=True,
    )
    if survivors:
        for m in mutants:
            if m.status in ("survived", "uncovered"):
                print(f"  {m.status:9s} {m.module}:{m.line} [{m.kind}] in {m.function}: "
                      f"{m.mutated_line.strip()}")  # fmt: skip
    return score


if __name__ == "__main__":
    sys.exit(main())
