"""Benchmarks of the backend: measurements with figures, run by `python -m bench` (`make bench`).

They are not tests: they report numbers against targets and leave judging them to docs/benchmarks.md.
"""
