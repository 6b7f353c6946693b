#!/usr/bin/env bash
# README command 2: set up (if needed) and run the whole test suite on CPU, slow tests included, one
# pytest worker per CPU (at most 4: each holds torch and the models), a test file per worker at a time
# (module fixtures made once); mini and the shared runs are made once for all workers (tests/conftest.py).
# Ends with the suite's wall and CPU time and this machine's CPU count. Extra arguments go to pytest
# (e.g. `-m unit` for the quick loop, `-m "not slow"`, `-k name`, `-n 0` for one process).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cpus=$(nproc)
workers=$(( cpus < 4 ? cpus : 4 ))
TIMEFORMAT="test suite: %0R s wall, %0U s user + %0S s system CPU, on $cpus CPU(s) ($workers pytest workers)"
status=0
time .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@" || status=$?
exit "$status"
