"""The intermediate representation: an orientation-free tensor-expression DAG."""
from .graph import depends_on, fold, topological, variables
from .node import Dim, Node, Shape, make

__all__ = ["Dim", "Node", "Shape", "make", "fold", "topological", "variables", "depends_on"]
