"""Benchmarks. Not part of the test suite; see bench/README.md."""
