"""Straight-line code for a set of IR roots: one statement per node (the IR is a DAG of interned nodes, so a common
subexpression is one node and is computed once), in topological order, each with its matrix notation as a comment.

EMIT is the code-emission table: one entry per primitive, written with a target's Writer (codegen/targets.py), so the
same entry serves NumPy, PyTorch and JAX. tests/ir/test_ops.py checks that it covers every primitive.

>>> import chainrule as cr
>>> from chainrule.codegen.targets import TARGETS, Writer
>>> g = cr.derivative("sum(exp(A*x))", "x")
>>> program = Program([g.node], Writer(TARGETS["numpy"]), {"x": "x", "A": "A"}, root_names=["grad_x"])
>>> for line in program.lines(): print(line)
# A*x
A_x = A @ x
# exp(A*x)
exp_A_x = np.exp(A_x)
# A'*exp(A*x)
grad_x = exp_A_x @ A
>>> program.roots
['grad_x']
"""
from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import UsageError
from ..ir import Node, Op, make, topological
from ..ir.ops import CONSTANT_LEAVES, ContractParams
from ..numeric.evaluate import node_text
from ..plan.contract import entries
from ..plan.rewrite import distribute
from ..plan.share import share
from .code import ADD, ATOM, MUL, POW, UNARY, Code, atom, number, wrap
from .contract import Ref, contract_code
from .targets import Writer

Emit = Callable[[Writer, Node, Ref, Mapping[str, int]], Code]
COMMENT_WIDTH = 110
LINE_WIDTH = 120               # the project's line length: generated files pass its linter
RELEASE_ENTRIES = 1 << 16      # temporaries this large (512 KiB in float64) are deleted after their last use


class CodegenError(UsageError):
    """An expression that a code generator cannot write (a primitive with no form in the target library)."""


def _const(w: Writer, node: Node, ref: Ref, sizes) -> Code:
    return w.full(node.shape, node.params.value) if node.shape else atom(number(node.params.value))


def _add(w: Writer, node: Node, ref: Ref, sizes) -> Code:
    text = ""
    codes = [ref(arg) for arg in node.args]
    negative = [c.prec == UNARY and c.text.startswith("-") for c in codes]
    if negative[0] and not all(negative):
        # -a + b is written b - a: one operation, where -a, then + b, are two (a sum's terms have no set order)
        first = negative.index(False)
        codes.insert(0, codes.pop(first))
    for k, code in enumerate(codes):
        if k and code.prec == UNARY and code.text.startswith("-"):
            text += f" - {code.text[1:]}"     # a + -b is written a - b (-b binds tighter than -, so b needs nothing)
        else:
            text += (" + " if k else "") + wrap(code, ADD if k == 0 else MUL)
    return Code(text, ADD)


def _pow(w: Writer, node: Node, ref: Ref, sizes) -> Code:
    x, p = node.args
    base = ref(x)
    if p.op is Op.CONST and p.params.value == -1.0:
        return Code(f"1.0 / {wrap(base, MUL + 1)}", MUL)
    if p.op is Op.CONST and p.params.value == 0.5:
        return w.map("sqrt", base)
    return Code(f"{wrap(base, ATOM)} ** {wrap(ref(p), UNARY)}", POW)


def _extremum(which: str) -> Emit:
    def emit(w: Writer, node: Node, ref: Ref, sizes) -> Code:
        a, b = node.args
        return w.extremum(which, ref(a), ref(b), a.op is Op.CONST, b.op is Op.CONST)
    return emit


def _cofactor(w: Writer, node: Node, ref: Ref, sizes) -> Code:
    # cofactor(A, k): the k-th derivative of det (k = 1: the cofactor matrix)
    if node.params.order == 1:
        return w.cofactor(ref(node.args[0]))
    return w.det_derivative(ref(node.args[0]), node.params.order)


def _reduction(method: str) -> Emit:
    def emit(w: Writer, node: Node, ref: Ref, sizes) -> Code:
        return getattr(w, method)(ref(node.args[0]), node.params.axes, node.args[0].rank)
    return emit


def _leaf(w: Writer, node: Node, ref: Ref, sizes) -> Code:
    raise AssertionError("a variable is an argument, never computed")


def _one(method: str) -> Emit:
    return lambda w, node, ref, sizes: getattr(w, method)(ref(node.args[0]))


def _index(w: Writer, node: Node, ref: Ref, sizes) -> Code:
    # x(2, 1:3) is x[1, 0:3] (positions from 0; ':' is the whole axis)
    items = [str(p) if type(p) is int else ":" if p[1] is None else f"{p[0]}:{p[1]}" for p in node.params.select]
    return w.index(ref(node.args[0]), items)


EMIT: dict[Op, Emit] = {
    Op.VAR: _leaf,
    Op.CONST: _const,
    Op.DELTA: lambda w, node, ref, sizes: w.eye(node.shape[0]),
    Op.BASIS: lambda w, node, ref, sizes: w.basis(node.shape[0], node.params.k),
    Op.MAP: lambda w, node, ref, sizes: w.map(node.params.fn, ref(node.args[0])),
    Op.ADD: _add,
    Op.POW: _pow,
    Op.MAX: _extremum("max"),
    Op.MIN: _extremum("min"),
    Op.CONTRACT: lambda w, node, ref, sizes: contract_code(node, ref, w, sizes),
    Op.STACK: lambda w, node, ref, sizes: w.concatenate([ref(a) for a in node.args], node.params.axis),
    Op.INDEX: _index,
    Op.LOGSUMEXP: _reduction("logsumexp"),
    Op.AMAX: _reduction("amax"),
    Op.ISMAX: _reduction("ismax"),
    Op.NORM2: _one("norm2"),
    Op.UNIT: _one("unit"),
    Op.INV: _one("inv"),
    Op.DET: _one("det"),
    Op.LOGDET: _one("logdet"),
    Op.COFACTOR: _cofactor,
}

_PLACEHOLDER = re.compile("\x00([0-9]+)\x00")


@dataclass(frozen=True)
class Statement:
    name: str
    code: str
    comment: str
    guard: str | None       # the condition under which it runs (None: always)
    node: Node


class Program:
    """The statements that compute `roots`, given the names of values already known (the variables, and in a
    backward pass the temporaries its forward pass saved).

    `guards[k]` is the condition under which root k is wanted (None: always): a statement runs under the union of its
    roots' conditions (torch's ctx.needs_input_grad, JAX's non-zero tangents). A temporary is named after what it is
    where a short name says it: root k `root_names[k]` (`grad_w`), a matrix product of named arrays after them (`A_x`,
    `Vt_V` for V'*V), a function after itself and its operand (`exp_A_x`, or `exp`); else `prefix` and a number (`t0`,
    `t1`, ...). Names in `taken`, and the known values', are never given.

    A product reads a partial product that the program computes anyway, or that is among `reusable` (known nodes: the
    temporaries a forward pass saved), where that saves work; with `split`, every product of three or more arrays is
    a tree of statements of two, so that its partial products are values a backward pass can reuse (plan/share.py).
    A statement's `node` is the node whose value it computes, as the derivatives are written (before these
    rewrites)."""

    def __init__(self, roots: Sequence[Node], w: Writer, known: Mapping[str, str] | Mapping[int, str],
                 sizes: Mapping[str, int] | None = None, guards: Sequence[str | None] | None = None,
                 prefix: str = "t", taken: set[str] | frozenset[str] = frozenset(), release: bool = False,
                 reusable: Sequence[Node] = (), split: bool = False, root_names: Sequence[str | None] = ()):
        self.w, self.sizes, self.release = w, dict(sizes or {}), release
        self.known = {k: v for k, v in known.items() if isinstance(k, int)}
        self.known_vars = {k: v for k, v in known.items() if isinstance(k, str)}
        guards = list(guards) if guards is not None else [None] * len(roots)
        roots, applied = distribute(roots, self.sizes)
        w.notes |= applied
        known_nodes = [*reusable, *(n for n in topological(list(roots)) if id(n) in self.known)]
        roots, origin, shared = share(roots, known_nodes, self.sizes, split, w.flops)
        w.notes |= shared
        order = topological(list(roots))
        self._in_order = {id(n) for n in order}
        self._constant = _reading_no_variable(order)
        self._numbers = _numbers(order, self._constant)
        self._negations = _negations(order, roots, self.known)
        self._expansions = _expansions(order, roots, self.known)
        self._codes: dict[int, Code] = {}
        self._wanted: dict[int, set[int]] = {}
        for k, root in enumerate(roots):
            self._wanted.setdefault(id(root), set()).add(k)
        for node in reversed(order):
            if id(node) in self._wanted and self._computed(node):
                self._codes[id(node)] = EMIT[node.op](w, node, self._ref(node), self.sizes)
        self._name: dict[int, str] = {}
        self._named_after: dict[int, str] = {}   # the temporaries named after what they are
        self._give_names(order, roots, root_names, prefix, {*taken, *self.known.values(), *self.known_vars.values()})
        self.statements: list[Statement] = []
        for node in order:
            if id(node) in self._codes:
                guard = _guard([guards[r] for r in sorted(self._wanted[id(node)])])
                source = origin.get(id(node), node)
                self.statements.append(Statement(self._name[id(node)], self._resolve(self._codes[id(node)].text),
                                                 w.comment(source, _comment), guard, source))
        self.roots = [self.root_code(root) for root in roots]

    def _give_names(self, order: list[Node], roots: Sequence[Node], root_names: Sequence[str | None], prefix: str,
                    taken: set[str]) -> None:
        numbered = _names(prefix, taken)        # reads `taken` as it grows
        given = {id(root): name for root, name in reversed(list(zip(roots, root_names, strict=False))) if name}
        for node in order:
            if id(node) not in self._codes:
                continue
            # a root's name is the caller's (grad_ and a variable's name, however long); others are kept short
            candidates, width = (([given[id(node)]], None) if id(node) in given
                                 else (NAMED_AFTER.get(node.op, _no_names)(node, self._operand_name), NAME_WIDTH))
            name = next((c for c in candidates if _may_take(c, taken, width)), None)
            if name is not None:
                self._named_after[id(node)] = name
            else:
                name = next(numbered)
            taken.add(name)
            self._name[id(node)] = name

    def _operand_name(self, node: Node) -> str | None:
        """A variable's name, or a temporary's where it is named after what it is."""
        return node.params.name if node.op is Op.VAR else self._named_after.get(id(node))

    def _computed(self, node: Node) -> bool:
        return (id(node) not in self.known and node.op is not Op.VAR and not _inline(node)
                and id(node) not in self._negations and id(node) not in self._expansions)

    def _ref(self, user: Node, wanted_by: Node | None = None) -> Ref:
        """The code of user's operands; `wanted_by`: the node in the program whose roots want them, where user is
        not in it (a negated product written into a sum)."""
        def ref(node: Node) -> Code:
            self._wanted.setdefault(id(node), set()).update(self._wanted[id(wanted_by or user)])
            if id(node) in self._negations:         # written into its sums as a subtraction (see _negations)
                x = self._negations[id(node)]
                # x's own operands are read by x (a product of numbers may need them as arrays), not by the sum
                code = ref(x) if id(x) in self._in_order else \
                    EMIT[x.op](self.w, x, self._ref(x, wanted_by or user), self.sizes)
                # -(a @ b) written -a @ b: the same number, and a sum's `- a @ b` needs no brackets
                return Code(f"-{wrap(code, MUL)}", UNARY)
            if id(node) in self._expansions:        # left to the sum's own broadcasting (see _expansions)
                inner, items, sign = self._expansions[id(node)]
                code = ref(inner)
                text = f"{wrap(code, ATOM)}[{items}]" if items else code.text
                return Code(f"-{text}", UNARY) if sign < 0 else Code(text, ATOM if items else code.prec)
            code = self._code_of(node, placeholder=True)
            return self.w.array(code) if _needs_array(user, node, self._numbers, self._constant) else code
        return ref

    def _code_of(self, node: Node, placeholder: bool) -> Code:
        if id(node) in self.known:
            return atom(self.known[id(node)])
        if node.op is Op.VAR:
            return atom(self.known_vars[node.params.name])
        if _inline(node):
            return atom(number(node.params.value))
        return atom(f"\x00{id(node)}\x00" if placeholder else self._name[id(node)])

    def _resolve(self, text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: self._name[int(m.group(1))], text)

    def root_code(self, root: Node) -> str:
        """The name (or literal) of a root's value; a scalar constant root becomes a 0-d array of the target."""
        if _inline(root) and id(root) not in self.known:
            return self.w.full((), root.params.value).text
        code = self._code_of(root, placeholder=False)
        return self.w.array(code).text if id(root) in self._numbers else code.text

    def used(self) -> set[str]:
        """The known names the statements read."""
        texts = " ".join(s.code for s in self.statements) + " " + " ".join(self.roots)
        names = set(self.known.values()) | set(self.known_vars.values())
        return {n for n in names if re.search(rf"\b{re.escape(n)}\b", texts)}

    def lines(self, indent: str = "", keep: Sequence[str] = ()) -> list[str]:
        """The statements, those with a guard inside `if guard:` blocks (consecutive ones share a block); with
        `release`, a large temporary is deleted after its last reader (see dead_after), unless it is a root or in
        `keep` (what a torch forward returns besides its value)."""
        out: list[str] = []
        current: str | None = None
        dead = self.dead_after(keep) if self.release else {}
        for k, s in enumerate(self.statements):
            if s.guard != current:
                current = s.guard
                if current is not None:
                    out.append(f"{indent}if {current}:")
            inner = indent + ("    " if s.guard is not None else "")
            out.append(f"{inner}# {s.comment}")
            out += fit(f"{inner}{s.name} = {s.code}", inner + "    ")
            if k in dead:
                out.append(f"{inner}del {', '.join(dead[k])}")
        return out

    def dead_after(self, keep: Sequence[str] = ()) -> dict[int, list[str]]:
        """statement index -> the large temporaries (RELEASE_ENTRIES or more at the planning sizes) that it reads
        last and that are neither a root nor in `keep`, so that `del` frees them there rather than at the function's
        return. A last reader under a guard runs only where the temporary's own guard holds (a reader is wanted by a
        subset of the roots that want the temporary), so the `del` never meets an undefined name."""
        kept = set(self.roots) | set(keep)
        last: dict[str, int] = {}
        for k, s in enumerate(self.statements):
            for name in set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", s.code)):
                last[name] = k
        dead: dict[int, list[str]] = {}
        for s in self.statements:
            if s.name in last and s.name not in kept and entries(s.node.shape, self.sizes) >= RELEASE_ENTRIES:
                dead.setdefault(last[s.name], []).append(s.name)
        return dead


def fit(line: str, indent: str, width: int = LINE_WIDTH) -> list[str]:
    """A statement longer than `width` broken after commas inside brackets (Python continues such lines), filling
    each line greedily; a statement with no such comma stays one line."""
    if len(line) <= width:
        return [line]
    pieces, depth, quote, start = [], 0, "", 0
    for k, c in enumerate(line):
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth > 0 and line[k + 1:k + 2] == " ":
            pieces.append(line[start:k + 1])
            start = k + 2
    pieces.append(line[start:])
    out = [pieces[0]]
    for piece in pieces[1:]:
        if len(out[-1]) + 1 + len(piece) <= width:
            out[-1] += " " + piece
        else:
            out.append(indent + piece)
    return out



def _negations(order: Sequence[Node], roots: Sequence[Node], known: Mapping[int, str]) -> dict[int, Node]:
    """The negations -x that only sums read, each mapped to x: a sum writes `a - x` in one operation, where a
    statement `t = -x` and then `a + t` would take two. x is an array, or a product (-c*Y: x is c*Y, a node of its
    own that no statement computes, written into the one sum that reads -c*Y)."""
    candidates: dict[int, Node] = {}
    readers: dict[int, int] = {}
    for n in order:
        minus = [k for k, a in enumerate(n.args) if _is_minus_one(a)] if n.op is Op.CONTRACT else []
        if len(minus) != 1 or id(n) in known:
            continue
        rest = [k for k in range(len(n.args)) if k != minus[0]]
        if len(rest) == 1 and n.params.specs[rest[0]] == n.params.out:
            candidates[id(n)] = n.args[rest[0]]
        elif len(rest) > 1:
            candidates[id(n)] = make(Op.CONTRACT, tuple(n.args[k] for k in rest),
                                     ContractParams(tuple(n.params.specs[k] for k in rest), n.params.out), n.shape)
    for node in order:
        for arg in node.args:
            readers[id(arg)] = readers.get(id(arg), 0) + 1
            if node.op is not Op.ADD:
                candidates.pop(id(arg), None)
    for root in roots:
        candidates.pop(id(root), None)
    # x is read where the sum reads -x: a node that the program computes is read from its statement, which must
    # come before (a product c*Y built here is another node than -c*Y's operands, and may come later in the order)
    position = {id(n): k for k, n in enumerate(order)}
    return {k: x for k, x in candidates.items()
            if (position[id(x)] < position[k] if id(x) in position else readers[k] == 1)}


def _expansions(order: Sequence[Node], roots: Sequence[Node], known: Mapping[int, str]) -> dict[int, tuple]:
    """The broadcasts (x or -x repeated along new axes: b' over a matrix's rows) that only sums read, each sum having
    another operand of its full shape: each maps to (x, the index that gives x its new axes, as in b[None, :], or ''
    for a scalar x, and the sign). The sum's own broadcasting repeats x, where np.broadcast_to costs a call of
    several microseconds."""
    candidates = {}
    for n in order:
        if n.op is not Op.CONTRACT or id(n) in known:
            continue
        arrays = [(a, s) for a, s in zip(n.args, n.params.specs, strict=True) if not _inline(a)]
        signs = [a.params.value for a in n.args if _inline(a)]
        if len(arrays) != 1 or signs not in ([], [-1.0]) or len(set(n.params.out)) < len(n.params.out):
            continue
        (inner, spec), out = arrays[0], n.params.out
        if len(set(spec)) < len(spec) or [r for r in out if r in spec] != list(spec) or len(spec) == len(out):
            continue
        items = ", ".join(":" if r in spec else "None" for r in out) if spec else ""
        candidates[id(n)] = (inner, items, -1 if signs else 1)
    for node in order:
        full = node.op is Op.ADD and any(a.shape == node.shape and id(a) not in candidates for a in node.args)
        for arg in node.args:
            if not full:
                candidates.pop(id(arg), None)
    for root in roots:
        candidates.pop(id(root), None)
    return candidates


def _is_minus_one(node: Node) -> bool:
    return node.op is Op.CONST and not node.shape and node.params.value == -1.0


def _reading_no_variable(order: Sequence[Node]) -> set[int]:
    """The nodes whose value reads no variable: numbers, sizes, constant tensors and what is made of them alone."""
    reads: dict[int, bool] = {}
    for node in order:
        reads[id(node)] = node.op is Op.VAR or any(reads.get(id(a), True) for a in node.args)
    return {id(n) for n in order if not reads[id(n)]}


def _numbers(order: Sequence[Node], constant: set[int]) -> set[int]:
    """The scalars that read no variable (1/size(X, 1)): computed as Python numbers, the sizes being numbers."""
    return {id(n) for n in order if not n.shape and id(n) in constant}


def _needs_array(user: Node, node: Node, numbers: set[int], constant: set[int]) -> bool:
    """Whether `user` must read the Python number `node` as an array: arithmetic takes numbers (a sum, a power, a
    product with an operand that is an array), a library function (sin, torch.broadcast_to, ...) may not. A product
    whose operands all read no variable (numbers, and constant tensors: a fill, eye, a unit vector, and products and
    sums of them, which the planner folds into the product rather than computing them as arrays) may broadcast or
    embed its numbers with such a function: 2*eye(n)/size(B, 2) is _embed(broadcast_to(2.0*t1, ...)), and
    vector(1, m)*vector(1, m)'*vector(1, m)/numel(z) is broadcast_to(t3*size["m"], ...). A constant read by anything
    but a product is a literal that the writers place themselves (torch.clamp(x, min=0.0))."""
    if id(node) not in numbers or user.op in (Op.ADD, Op.POW) or (node.op is Op.CONST and user.op is not Op.CONTRACT):
        return False
    if user.op is Op.CONTRACT:
        return bool(user.shape) and all(id(a) in constant or a.op in CONSTANT_LEAVES for a in user.args)
    return True


def _inline(node: Node) -> bool:
    return node.op is Op.CONST and not node.shape


def _guard(guards: list[str | None]) -> str | None:
    if any(g is None for g in guards):
        return None
    return " or ".join(dict.fromkeys(guards))   # type: ignore[arg-type]


NAME_WIDTH = 12    # a longer name after what a temporary is reads worse than a number and the comment above it


def _may_take(name: str, taken: set[str], width: int | None) -> bool:
    return (name.isidentifier() and not keyword.iskeyword(name) and name not in taken
            and (width is None or len(name) <= width))


OperandName = Callable[[Node], "str | None"]


def _function_names(node: Node, operand_name: OperandName) -> list[str]:
    """A function of one operand after itself and the operand, or itself alone (`tanh_h`, `tanh`; `inv_A`)."""
    what = node.params.fn if node.op is Op.MAP else node.op.value
    inner = operand_name(node.args[0])
    return [f"{what}_{inner}", what] if inner else [what]


def _product_names(node: Node, operand_name: OperandName) -> list[str]:
    """A matrix product of two variables or one-word temporaries after its factors as `@` writes them, a transposed
    one marked t (`A_x`, `Vt_V`, `x_A`, `tanh_W2`); no name for any other product."""
    factors = _matrix_product(node.args, node.params.specs, node.params.out) if len(node.args) == 2 else None
    if factors is None:
        return []
    # a factor is a variable or a temporary of one word (tanh): A_x, tanh_W2; exp_A_x_A would hide where A'*
    # begins
    names = [(operand_name(a) if a.op is Op.VAR or "_" not in (operand_name(a) or "_") else None, mark)
             for a, mark in factors]
    return [] if any(name is None for name, _ in names) else ["_".join(f"{name}{mark}" for name, mark in names)]


def _matrix_product(args: Sequence[Node], specs: Sequence[tuple], out: tuple) -> list[tuple[Node, str]] | None:
    """Where the labels make a matrix product (or one of a matrix and a vector), one index summed and the others kept
    in order: its factors in the order `@` writes them, each with "t" if transposed there (X'*Y is Xt, Y; a matrix
    and a vector need none: A'*x is x @ A); else None."""
    (a, b), (sa, sb) = args, specs
    summed = set(sa) & set(sb)
    if not (1 <= len(sa) <= 2 and 1 <= len(sb) <= 2) or len(sa) + len(sb) < 3 or len(summed) != 1 \
            or len(set(sa)) < len(sa) or len(set(sb)) < len(sb):
        return None     # a dot product (of no order worth a name), an outer product, or a diagonal
    (k,) = summed
    free_a, free_b = tuple(x for x in sa if x != k), tuple(x for x in sb if x != k)
    if out not in (free_a + free_b, free_b + free_a):
        return None
    if len(sa) != len(sb):                          # the matrix first where its summed index is its last
        (m, sm), v = ((a, sa), b) if len(sa) == 2 else ((b, sb), a)
        return [(m, ""), (v, "")] if sm[1] == k else [(v, ""), (m, "")]
    if out != free_a + free_b:
        (a, sa), (b, sb) = (b, sb), (a, sa)
    return [(a, "t" if len(sa) == 2 and sa[0] == k else ""), (b, "t" if len(sb) == 2 and sb[1] == k else "")]


# What a temporary may be named after, per primitive, the most telling name first (tests/ir/test_ops.py checks the
# table); the others' temporaries are numbered: NUMBERED.
NAMED_AFTER: dict[Op, Callable[[Node, OperandName], list[str]]] = {
    **dict.fromkeys((Op.MAP, Op.LOGSUMEXP, Op.AMAX, Op.ISMAX, Op.NORM2, Op.UNIT, Op.INV, Op.DET, Op.LOGDET),
                    _function_names),
    Op.CONTRACT: _product_names,
}
# leaves are never statements; a sum, power, extremum, stack, index or det derivative has no short name of its own
NUMBERED = frozenset({Op.VAR, Op.CONST, Op.DELTA, Op.BASIS, Op.ADD, Op.POW, Op.MAX, Op.MIN, Op.STACK, Op.INDEX,
                      Op.COFACTOR})


def _no_names(node: Node, operand_name: OperandName) -> list[str]:
    return []


def _names(prefix: str, taken: set[str] | frozenset[str]):
    k = 0
    while True:
        name = f"{prefix}{k}"
        k += 1
        if name not in taken:
            yield name


def _comment(node: Node) -> str:
    # Every node prints as a character or more: a node of more nodes than the width would be cut anyway, and
    # printing every partial product of a long chain in full would cost time quadratic in its length.
    if len(topological([node])) > COMMENT_WIDTH:
        return f"{node.op.value}, {'×'.join(map(str, node.shape)) or 'scalar'} (its formula is longer than a line)"
    try:
        text = node_text(node)
    except Exception:
        text = str(node.op)
    text = " ".join(text.split())
    return text if len(text) <= COMMENT_WIDTH else text[:COMMENT_WIDTH - 3] + "..."
