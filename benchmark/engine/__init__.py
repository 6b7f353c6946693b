"""Layer 3: running models and metrics over a protocol and turning the rows into a record.

plan -> execute (local or Ray) -> reduce, resumable; merge of shards, the regression check,
export packs and output validation. Uses core, perception and the domain packages (metrics,
adapters, protocols); reports and the CLI use it.
"""
