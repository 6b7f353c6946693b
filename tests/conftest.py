import os
import subprocess
import sys
from pathlib import Path

import pytest

from protocols.mini import MiniProtocol


@pytest.fixture(scope="session")
def mini_data_root(tmp_path_factory) -> Path:
    """The mini protocol, built once per test session (about 30 s on 2 cores)."""
    root = tmp_path_factory.mktemp("bench-data")
    MiniProtocol(root).prepare()
    return root


@pytest.fixture(scope="session")
def mini(mini_data_root) -> MiniProtocol:
    return MiniProtocol(mini_data_root)


def run_bench(*args: str, data_root: Path, cwd: Path, check_codes=(0,), timeout=600, **popen) -> subprocess.CompletedProcess:
    """Run the real `bench` console script the way a user does."""
    env = {**os.environ, "BENCH_DATA": str(data_root)}
    bench = Path(sys.executable).with_name("bench")
    proc = subprocess.run([str(bench), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, **popen)
    if proc.returncode not in check_codes:
        raise AssertionError(f"bench {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc
