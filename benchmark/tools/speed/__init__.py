"""Speed benchmarks that print figures (`bench speed ...`): ours vs the reference, one process."""
