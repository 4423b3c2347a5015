"""Derivatives: per-primitive rules and reverse accumulation."""
from .reverse import jacobian

__all__ = ["jacobian"]
