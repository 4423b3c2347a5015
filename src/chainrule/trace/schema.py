"""A trace as JSON, schema version 1 (documented in docs/trace.md; the web page reads it).

Stability rules: every key is present in both modes (lists empty, objects null where a mode has nothing); new keys may
be added within a version; renaming or removing a key, or changing a value's meaning, bumps SCHEMA_VERSION.
"""
from __future__ import annotations

import json
import math

import numpy as np

from .model import Edge, Gradient, Local, TraceData

SCHEMA_VERSION = 1


def array(a: object) -> dict:
    """{"shape": [...], "data": number or nested lists}; NaN and infinities become null (JSON has no such numbers)."""
    a = np.asarray(a, dtype=float)
    data = np.where(np.isfinite(a), a, np.nan).tolist()
    return {"shape": list(a.shape), "data": _finite(data)}


def _finite(data):
    if isinstance(data, float):
        return None if math.isnan(data) else data
    stack, root = [data], data
    while stack:   # replace NaN in nested lists, iteratively
        items = stack.pop()
        for k, item in enumerate(items):
            if isinstance(item, list):
                stack.append(item)
            elif math.isnan(item):
                items[k] = None
    return root


def to_dict(t: TraceData) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "expression": t.expression,
        "mode": t.mode,
        "wrt": list(t.wrt),
        "variables": [{"name": n, "dims": list(t.variables[n]), "value": array(v)} for n, v in t.values.items()],
        "output": {"name": t.output, "value": array(t.value)},
        "forward": [{"name": s.name, "op": s.op, "formula": s.formula, "source": s.source,
                     "operands": list(s.operands), "dims": list(s.dims), "value": array(s.value)} for s in t.forward],
        "backward": [{"name": b.name, "upstream": array(b.upstream), "edges": [_edge(e) for e in b.edges]}
                     for b in t.backward],
        "sums": [{"name": s.name, "parts": [{"from": src, "value": array(v)} for src, v in s.parts],
                  "total": array(s.total)} for s in t.sums],
        "direction": {n: array(v) for n, v in t.direction.items()} if t.mode == "forward" else None,
        "tangents": [{"name": s.name, "tangent": array(s.tangent),
                      "terms": [{**_local(loc), "value": array(v)} for loc, (_, v) in zip(s.locals, s.terms,
                                                                                          strict=True)]}
                     for s in t.tangents],
        "directional": _directional(t),
        "not_finite": t.not_finite,
        "gradients": [_gradient(g) for g in t.gradients],
        "ok": t.ok,
    }


def _local(loc: Local) -> dict:
    return {"operand": loc.operand, "count": loc.count,
            "local": {"expression": loc.expression, "value": array(loc.value)}}


def _edge(e: Edge) -> dict:
    return {**_local(e.local), "downstream": array(e.downstream)}


def _directional(t: TraceData) -> dict | None:
    d = t.directional
    if d is None:
        return None
    return {"tangent": array(d.tangent), "symbolic": array(d.symbolic), "finite_difference": array(d.finite_difference),
            "max_abs_difference": _number(d.difference), "max_fd_error": _number(d.fd_error), "ok": d.ok}


def _gradient(g: Gradient) -> dict:
    c = g.check
    return {"wrt": g.wrt, "expression": g.expression, "value": array(g.symbolic),
            "backprop": None if g.backprop is None else array(g.backprop), "max_abs_difference": _number(g.difference),
            "finite_differences": {"ok": c.ok, "max_abs_error": _number(c.max_abs_error),
                                   "max_rel_error": _number(c.max_rel_error),
                                   "tolerance": c.tolerance, "directions": c.directions}}


def _number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def to_json(t: TraceData, indent: int | None = 2) -> str:
    return json.dumps(to_dict(t), indent=indent, ensure_ascii=False, allow_nan=False)
