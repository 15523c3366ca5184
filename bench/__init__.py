"""Benchmarks that compare Tandem with the raw alternatives in one run (see docs/benchmarks.md)."""
