"""Layer 4, beside reports: measurements of the harness itself, printed as figures.

Speed benchmarks (`bench speed ...`), the calibration table against reference implementations,
and adapter profiles (thesis Table 5.2). They use the engine and lower layers; the CLI uses them.
"""
