"""Tests of slimkit.report (a package, so its conftest never shadows tests/conftest.py)."""
