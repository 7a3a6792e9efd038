"""thoughtdistill: distil long chain-of-thought reasoning into small students."""

__version__ = "0.1.0"
