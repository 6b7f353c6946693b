import os
import signal
import subprocess as sp
import sys
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest

from protocols.mini import MiniProtocol


MINI_ID = f"mini/{MiniProtocol.version}"  # the protocol id runs on mini record (the version changes with mini)
PREPARED = {"mini", "mini_data_root"}  # fixtures that need the prepared mini protocol


def pytest_configure(config):
    """Parallel workers (`pytest -n N`, scripts/test.sh) each get their own share of the CPUs: a run takes
    one torch thread per CPU its process may use (Settings' default), and two workers' thread pools on the
    same CPUs wait on each other far longer than either computes."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker or not hasattr(os, "sched_setaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= count > 1:
        mine = cpus[int(worker.removeprefix("gw")) :: count]
        os.sched_setaffinity(0, mine)
        if "torch" in sys.modules:  # else torch takes its thread count from the affinity when imported
            sys.modules["torch"].set_num_threads(len(mine))


def pytest_collection_modifyitems(items):
    """Every test is `unit` (synthetic inputs only) or `e2e` (the prepared mini protocol, through the
    fixtures below), unless it says which itself; `slow` is marked by hand (pyproject.toml lists the markers)."""
    for item in items:
        if not (item.get_closest_marker("unit") or item.get_closest_marker("e2e")):
            item.add_marker(pytest.mark.e2e if PREPARED & set(item.fixturenames) else pytest.mark.unit)


@contextmanager
def _made_once(tmp_path_factory, name: str):
    """(folder, whether it still has to be made): a folder of this test session that parallel workers
    (`pytest -n`, pytest-xdist) share, so the first worker makes it and the others wait for it. Held
    under a file lock until the block ends; the caller marks it made by letting the block end normally."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's temporary folder, above each worker's own
    folder, made = base / name, base / f"{name}.made"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        folder.mkdir(exist_ok=True)
        yield folder, not made.exists()
        made.touch()


@pytest.fixture(scope="session")
def mini_data_root(tmp_path_factory) -> Path:
    """The mini protocol, built once per test session (about 30 s on 2 cores), shared by parallel workers."""
    with _made_once(tmp_path_factory, "bench-data") as (root, to_make):
        if to_make:
            MiniProtocol(root).prepare()
    return root


@pytest.fixture(scope="session")
def mini(mini_data_root) -> MiniProtocol:
    return MiniProtocol(mini_data_root)


REFERENCE_MODELS = ("ground-truth", "still")


@pytest.fixture(scope="session")
def reference_runs(mini_data_root, tmp_path_factory) -> Path:
    """Complete ground-truth and still runs on mini with the default metrics, made once per session:
    the folder holding `mini/ground-truth-seed0-*` and `mini/still-seed0-*`, what report, table and
    compare tests read. Read only: a test that edits a run, or adds runs beside them, copies the
    folder first (shutil.copytree); teardown fails if a file in it changed."""
    from benchmark.engine.runner import RunConfig, Runner
    from metrics import DEFAULT_METRICS

    with _made_once(tmp_path_factory, "reference-runs") as (out, to_make):
        for model in REFERENCE_MODELS if to_make else ():
            config = RunConfig(
                model=model, dataset="mini", metrics=DEFAULT_METRICS, data_dir=mini_data_root, runs_dir=out
            )
            outcome = Runner(config, progress=False, log=lambda s: None).run()
            assert outcome.exit_code == 0 and outcome.n_scored == 12, outcome.record.get("failures")
    before = _digests(out)
    yield out
    assert _digests(out) == before, f"a test changed the shared runs in {out}: copy them before editing"


def _digests(folder: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_bench(
    *args: str, data_root: Path, cwd: Path, check_codes=(0,), timeout=600, subprocess: bool = False, **popen
) -> sp.CompletedProcess:
    """`bench ARGS` with $BENCH_DATA=data_root in cwd: its exit status, stdout and stderr.

    In this process by default (the same `main()` the console script calls: click parsing, one-line
    errors, exit statuses), which saves starting Python and importing torch per call. Pass
    `subprocess=True` where the process itself is under test: the installed console script, signals,
    what reaches the terminal from native code; `timeout` applies only there.
    """
    if subprocess or popen:
        return _run_bench_process(args, data_root, cwd, check_codes, timeout, **popen)
    proc = _run_bench_here(args, data_root, cwd)
    if proc.returncode not in check_codes:
        raise AssertionError(
            f"bench {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def _run_bench_process(args, data_root, cwd, check_codes, timeout, **popen) -> sp.CompletedProcess:
    """The installed console script in its own process, the way a user runs it."""
    env = {**os.environ, "BENCH_DATA": str(data_root)}
    bench = Path(sys.executable).with_name("bench")
    proc = sp.run([str(bench), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, **popen)
    if proc.returncode not in check_codes:
        raise AssertionError(
            f"bench {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


# what Python shows on stderr by default outside __main__ (the rest it ignores)
SHOWN_WARNINGS = (UserWarning, FutureWarning, RuntimeWarning, SyntaxWarning, BytesWarning, UnicodeWarning)


@contextmanager
def _working_folder(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _run_bench_here(args, data_root, cwd) -> sp.CompletedProcess:
    """`benchmark.cli.main()` with the argv, environment, working folder and std streams of a fresh `bench` process.

    An exception that escapes main() is printed as Python would (a traceback, status 1), and warnings go
    to stderr as Python shows them, so assertions on stderr mean the same in both modes. Process-wide
    settings a command changes (the SIGTERM handler, torch's thread count) are put back afterwards.
    """
    import torch
    from click.testing import CliRunner

    from benchmark.cli import main

    argv, sigterm, threads = sys.argv, signal.getsignal(signal.SIGTERM), torch.get_num_threads()
    code = 0
    with (
        CliRunner().isolation(env={"BENCH_DATA": str(data_root)}) as (out, err, _),
        _working_folder(cwd),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("default")
        sys.argv = ["bench", *map(str, args)]
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        except Exception:  # what an uncaught error prints; KeyboardInterrupt stops the tests as it should
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            sys.argv = argv
            signal.signal(signal.SIGTERM, sigterm)
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
        for w in caught:
            if issubclass(w.category, SHOWN_WARNINGS):
                sys.stderr.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode("utf-8", "backslashreplace")
    return sp.CompletedProcess(["bench", *args], code, stdout, stderr)
