"""Fixtures for the select tests; data helpers live in _select_data.py."""

from _select_data import multi_chain_file, multi_chain_rows  # noqa: F401
