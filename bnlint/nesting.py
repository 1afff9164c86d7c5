"""How deeply a program's expressions nest: a cheap bound from its tokens, and the exact
depth of CPython's syntax tree.

libcst's native parser recurses once per level of an expression and dies (a stack
overflow, or gigabytes of memory) on a few thousand levels: 5,000 nested lambdas, 10,000
`not`, a 100,000-term `+` chain or attribute chain. A process cannot catch that, so
such a text must be recognised before it is handed to libcst. ``nesting_bound`` is a
linear scan of the text that never underestimates the depth of an expression (each
level needs an operator, a keyword or a bracket of its own, and a comma, a semicolon or
a new statement closes a chain); only a text whose bound is high is given to CPython's
parser, whose tree says how deep it really is (``tree_depth``).
"""

from __future__ import annotations

import ast
import re

# Strings and comments are skipped whole (a bracket inside one is not a bracket); a
# backslash continuation does not end a statement; the rest are the tokens that open a
# level of an expression tree.
_TOKEN = re.compile(
    r"""(?P<string>[rRbBuUfF]{0,2}(?:'''(?:[^'\\]|\\.|'(?!''))*(?:'''|\Z)"""
    r'''|"""(?:[^"\\]|\\.|"(?!""))*(?:"""|\Z)'''
    r"""|'(?:[^'\\\n]|\\.)*(?:'|$)|"(?:[^"\\\n]|\\.)*(?:"|$)))"""
    r"|(?P<comment>#[^\r\n]*)"
    r"|(?P<continuation>\\\r?\n)"
    r"|(?P<open>[(\[{])|(?P<close>[)\]}])"
    r"|(?P<reset>[,;]|\r\n|\r|\n)"
    r"|(?P<operator>[-+~]|[*/%@&|^<>.=!:]+|\b(?:not|lambda|await|if|else|and|or|in|is|yield)\b)",
    re.MULTILINE | re.DOTALL,
)
# Below this many candidate tokens in the whole text no expression can be deeper.
_TOKEN_CHARS = re.compile(r"[-+*/%@&|^~<>.(\[{'\"]|\b(?:not|lambda|await|if|and|or)\b")


def nesting_bound(text: str, floor: int) -> int:
    """A bound of the depth of ``text``'s deepest expression (it does not count the
    nesting of statements, which CPython limits to 100 blocks); 0 when the text has too
    few operators and brackets to nest deeper than ``floor`` at all."""
    if len(_TOKEN_CHARS.findall(text)) <= floor:
        return 0
    deepest = 0
    outer: list[int] = []  # per open bracket, the chain length outside it
    above = 0  # sum of ``outer``: the levels of every enclosing chain
    chain = 0  # levels of the current chain at the innermost bracket
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "operator" or kind == "string":
            chain += 1  # adjacent strings concatenate into a nested node too
        elif kind == "open":
            chain += 1
            outer.append(chain)
            above += chain
            chain = 0
        elif kind == "close":
            if outer:
                chain = outer.pop()
                above -= chain
        elif kind == "reset":
            # a new line inside brackets continues the expression; a comma does not
            if match.group() in ",;" or not outer:
                chain = 0
            continue
        else:
            continue
        deepest = max(deepest, above + chain)
    return deepest


def tree_depth(tree: ast.AST) -> int:
    """The depth of CPython's syntax tree ``tree`` as libcst would nest it: CPython keeps
    the operands of `a and b and c` in one flat node, libcst nests one node per operator.
    Iterative: the tree may be deeper than Python's recursion limit."""
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, ast.BoolOp):
            depth += len(node.values) - 1
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest
