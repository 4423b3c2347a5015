"""`explain`: step-by-step chain-rule derivations (Parr & Howard's four steps), every step computed by the engine."""
from .derivation import Derivation, explain

__all__ = ["Derivation", "explain"]
