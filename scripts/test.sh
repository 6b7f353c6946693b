#!/usr/bin/env bash
# README command 2: set up (if needed) and run the whole test suite on CPU, slow tests included;
# ends with the suite's wall and CPU time and this machine's CPU count. Extra arguments go to pytest
# (e.g. `-m unit` for the quick loop, `-m "not slow"`, `-k name`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
TIMEFORMAT="test suite: %0R s wall, %0U s user + %0S s system CPU, on $(nproc) CPU(s)"
status=0
time .venv/bin/python -m pytest "$@" || status=$?
exit "$status"
