"""The intermediate representation: an orientation-free tensor-expression DAG over a closed set of primitives."""
from .graph import depends_on, fold, topological, variables
from .intern import make, nodes_made
from .node import Dim, Node, Shape, VarInfo
from .ops import Op
from .validate import checking, validate

__all__ = ["Dim", "Node", "Op", "Shape", "VarInfo", "checking", "depends_on", "fold", "make", "nodes_made",
           "topological", "validate", "variables"]
