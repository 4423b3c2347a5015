"""The intermediate representation: an orientation-free tensor-expression DAG."""
from .graph import depends_on, fold, topological, variables
from .node import Dim, Node, Shape, VarInfo, make

__all__ = ["Dim", "Node", "Shape", "VarInfo", "depends_on", "fold", "make", "topological", "variables"]
