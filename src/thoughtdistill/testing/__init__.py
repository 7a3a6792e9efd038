"""Helpers shared by tests, benches and the quick start: real local servers and data paths."""
