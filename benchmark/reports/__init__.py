"""Layer 4: what people read, built from finished records and rows only (never running a model).

Results as DataFrames (frames), the one ranking rule, paper and results tables, the leaderboard
site with its plots, and paired comparisons. Uses core (records, stats) and the metric registry's
declarations; the CLI uses it.
"""
