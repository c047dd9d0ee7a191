"""Quantum.DX: engineering intelligence on PostgreSQL."""

__version__ = "0.1.0"
