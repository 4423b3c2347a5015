"""The input language: grammar, parser, shape inference and lowering to the IR."""
from .infer import Compiled, compile_text, default_kind

__all__ = ["Compiled", "compile_text", "default_kind"]
