"""The fast reader (language/reader.py) builds exactly lark's tree, or declines; lark stays the grammar and the source
of every syntax error. Compared node by node (operation, value, span) on grammar-shaped random texts, their
mutations, random token strings, and the long and deep inputs the reader exists for."""
import random

import lark
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule.language import reader
from chainrule.language.parser import _parser, parse_syntax
from chainrule.language.surface import Syntax


def lark_tree(text: str) -> Syntax | None:
    try:
        tree = _parser().parse(text)
    except lark.exceptions.LarkError:
        return None
    assert isinstance(tree, Syntax)
    return tree


def differences(ours: Syntax, theirs: Syntax) -> list:
    """The pairs of nodes that differ in operation, value, span or number of operands (iterative)."""
    found, stack = [], [(ours, theirs)]
    while stack:
        a, b = stack.pop()
        same_value = a.value == b.value or (a.value != a.value and b.value != b.value)    # nan == nan here
        if (a.op, a.start, a.end, len(a.args)) != (b.op, b.start, b.end, len(b.args)) or not same_value:
            found.append((a, b))
            continue
        stack.extend(zip(a.args, b.args, strict=True))
    return found


def agrees(text: str) -> bool:
    """The reader gives lark's tree, or declines where lark fails; whether it read the text itself."""
    ours, theirs = reader.read(text), lark_tree(text)
    if ours is None:
        assert theirs is None, f"the reader declined {text!r}, which lark reads"
        return False
    assert theirs is not None, f"the reader accepted {text!r}, which lark rejects"
    assert not differences(ours, theirs), (text, differences(ours, theirs)[:1])
    return True


def test_the_lexemes_are_the_grammars():
    terminals = {t.name: t.pattern.value for t in _parser().terminals}
    assert terminals["NUMBER"] == reader.NUMBER and terminals["NAME"] == reader.NAME


ATOMS = ["a", "x", "A", "x1", "2", ".5", "3.", "1e-3", "2.5E+2", "pi", " b ", "٣"]


def grammar_text(rng: random.Random, depth: int) -> str:
    """A random text of the grammar (every production, spaces here and there)."""
    if depth <= 0 or rng.random() < 0.2:
        return rng.choice(ATOMS)
    sub = lambda: grammar_text(rng, depth - 1)     # noqa: E731
    choice = rng.randrange(12)
    if choice <= 3:
        return sub() + rng.choice(["+", "-", "*", "/", ".*", "./", "^", ".^", " + ", "- ", "*-"]) + sub()
    if choice == 4:
        return rng.choice(["-", "+", "- ", "--"]) + sub()
    if choice == 5:
        return sub() + rng.choice(["'", "''", " '"])
    if choice == 6:
        return "(" + sub() + ")"
    if choice == 7:
        return "[" + rng.choice([";", ",", " ; "]).join(sub() for _ in range(rng.randint(1, 4))) + "]"
    if choice == 8:
        arguments = [rng.choice([sub(), ":", sub() + ":" + sub(), "[]", "[ ]", '"ij->i"', "'ij'"])
                     for _ in range(rng.randint(0, 3))]
        return rng.choice(["sin", "max", "f", "einsum", "x"]) + rng.choice(["(", " ("]) + ", ".join(arguments) + ")"
    if choice == 9:
        return "(" + sub() + ")(" + ",".join(rng.choice([sub(), ":", "1:2"]) for _ in range(rng.randint(1, 2))) + ")"
    if choice == 10:
        return "[" + sub() + ";" + sub() + "](" + sub() + ")"
    return sub() + rng.choice(["^", ".^", "*"]) + "-" + sub()


def mutated(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(["", "(", ")", "'", "-", "]", "[", ",", ";", ":", "*", '"', "."]) + text[at + 1:]


def test_grammar_texts_and_their_mutations_read_as_lark_reads_them():
    rng = random.Random(5)
    read_here = 0
    for _ in range(3000):
        text = grammar_text(rng, rng.randint(1, 5))
        read_here += agrees(text)
        agrees(mutated(rng, text))
    assert read_here > 2000          # the valid texts are read here, not handed to lark


TOKENS = ["a", "x", "f", "sin", "2", ".5", "1e3", "+", "-", "*", "/", ".*", "./", "^", ".^", "'", "(", ")", "[", "]",
          ";", ",", ":", '"ij->i"', "'ij'", " ", "[]", "max", "\t", "2.", "e"]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14))
def test_random_token_strings_read_as_lark_reads_them(tokens):
    agrees("".join(tokens))


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.text(alphabet=st.sampled_from("ax2.(')[];,:+-*/^ \"e\n"), min_size=1, max_size=16))
def test_random_characters_read_as_lark_reads_them(text):
    agrees(text)


@pytest.mark.parametrize("text", [
    "+".join(["x"] * 2000), "x'*" + "*".join(["A"] * 2000) + "*x", "[" + ";".join(["a"] * 2000) + "]",
    "(" * 3000 + "x" + ")" * 3000, "sin(" * 3000 + "a" + ")" * 3000, "-" * 5000 + "x", "x" + "'" * 5000,
    "a^" * 2000 + "b", "-a^-" * 1000 + "b",
])
def test_long_and_deep_texts_are_read_without_recursion(text):
    assert agrees(text)


def test_errors_stay_lark_s():
    # the reader declines, lark reports: the message names what was expected, at the position
    with pytest.raises(Exception, match="expected"):
        parse_syntax("x +* y")
    assert reader.read("x +* y") is None and reader.read("(x") is None and reader.read("x'y") is None
