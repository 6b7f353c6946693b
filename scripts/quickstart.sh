#!/usr/bin/env bash
# README command 1: set up, build the embedded mini protocol, score the two reference adapters,
# and build the leaderboard. Safe to re-run: finished work is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source .venv/bin/activate
bench prepare mini
status=0
for model in ground-truth still; do
  bench run --model "$model" --dataset mini || status=$?
done
bench leaderboard results/runs -o results/leaderboard
echo
echo "Open the leaderboard: file://$(pwd)/results/leaderboard/index.html"
exit $status
