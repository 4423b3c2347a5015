"""The plan of an expression for given sizes, shared by evaluation (numeric/) and code generation (codegen/).

- contract.py: a generalized product as pairwise operations in the order of fewest multiply-adds (matmul, broadcast
  multiply, tensordot, solve for inv(A)*b, einsum only with its path), carried out by an Emitter;
- rewrite.py: products distributed over sums where that saves multiply-adds;
- share.py: products reading the partial products computed anyway (or saved by a forward pass) where that saves
  multiply-adds, and products of three or more arrays split into statements of two (codegen's torch forward).
"""
from __future__ import annotations

from .contract import DEFAULT_SIZE, Emitter, Planned, plan_product, product_flops
from .rewrite import distribute

__all__ = ["DEFAULT_SIZE", "Emitter", "Planned", "distribute", "plan_product", "product_flops"]
