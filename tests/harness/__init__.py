"""Helpers shared by the test packages (importable as ``harness``: pytest puts tests/ on
the path)."""
