"""Benchmarks. Results are ratios against the bare database in the same run."""
