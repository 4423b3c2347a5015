"""Algebraic normal forms, applied as nodes are built (see build.py and contract.py)."""
from . import build

__all__ = ["build"]
