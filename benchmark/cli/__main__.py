"""`python -m benchmark.cli`: the same as `bench`."""

from benchmark.cli.app import main

main()
