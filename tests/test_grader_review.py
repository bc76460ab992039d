"""The static review of solution code: each rule flags its attack, and no solution of the book is flagged."""

import pytest

import coursework as cw
import grade
import sandbox_review as rv

CHAPTER_NAMES = {"np", "torch", "math", "F", "check_table", "X_check"}
ALIASES = {"np": "numpy", "torch": "torch", "math": "math", "F": "torch.nn.functional"}

FLAGGED = [
    ("import os", "imports os"),
    ("import sys", "imports sys"),
    ("from inspect import currentframe", "imports inspect"),
    ("import importlib", "imports importlib"),
    ("import ctypes", "imports ctypes"),
    ("import gc", "imports gc"),
    ("import subprocess", "imports subprocess"),
    ("import builtins", "imports builtins"),
    ("from torch import multiprocessing", "imports multiprocessing from torch"),
    ("import numpy._core", "private module"),
    ("def f():\n    return eval('1')", "uses eval"),
    ("exec('x = 1')", "uses exec"),
    ("__import__('os')", "uses __import__"),
    ("def f():\n    return open('/etc/passwd').read()", "uses open"),
    ("get_ipython().events.register('pre_run_cell', print)", "uses get_ipython"),
    ("print(In[-1])", "uses In"),
    ("x = _ih", "uses _ih"),
    ("def f():\n    return globals()['expected']", "uses globals"),
    ("def f(x):\n    return getattr(x, 'y')", "uses getattr"),
    ("def f():\n    return ().__class__.__base__.__subclasses__()", "uses .__class__"),
    ("def f(e):\n    return e.__traceback__.tb_frame.f_back", "uses .__traceback__"),
    ("def f(g):\n    return g.gi_frame.f_locals", "uses g.gi_frame"),
    ("def f():\n    return torch._C", "private attribute ._C"),
    ("w = np.load('answers.npy')", "uses np.load"),
    ("torch.save({}, 'x.pt')", "uses torch.save"),
    ("np.allclose = lambda *a, **k: True", "assigns to np.allclose"),
    ("def f():\n    torch.testing.assert_close = print", "assigns to torch.testing.assert_close"),
    ("check_table.cache = {}", "assigns to check_table.cache"),
    ("np = None", "rebinds np"),
    ("def check_table(rows):\n    pass", "rebinds check_table"),
    ("X_check = [1]", "rebinds X_check"),
    ("def f():\n    global np\n    np = None", "declares global np"),
    ("class A:\n    def __eq__(self, other):\n        return True", "class A defines __eq__"),
    ("class A(float):\n    __hash__ = None", "class A sets __hash__"),
    ("B = type('B', (), {})", "type(name, bases, namespace)"),
    ("!cat /etc/passwd", "not plain Python"),
    ("%load solutions.py", "not plain Python"),
]

HONEST = [
    "import math\nimport numpy as np\n\ndef f(x):\n    return np.sqrt(x) + math.pi",
    "def f(x):\n    total = 0\n    for _ in range(3):\n        total += x\n    return total",
    "class Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n        self._w = 1\n\n"
    "    def forward(self, x):\n        return x * self._w\n\n    def __repr__(self):\n        return 'Net'",
    "def f(conv):\n    linear = torch.nn.Linear(2, 3)\n    linear.weight.data = conv.weight[..., 0]\n    return linear",
    "from itertools import product\nfrom collections import Counter\n\ndef f(n):\n    return Counter(product(range(n), repeat=2))",
    "def f(z):\n    return F.relu(torch.as_tensor(z)).numpy()",
]


@pytest.mark.parametrize("source, expected", FLAGGED, ids=[f[1] for f in FLAGGED])
def test_a_rule_flags_its_construct(source, expected):
    found = rv.findings(source, CHAPTER_NAMES, ALIASES, own={"f"})
    assert any(expected in f for f in found), found


@pytest.mark.parametrize("source", HONEST)
def test_plain_numerical_code_is_not_flagged(source):
    assert rv.findings(source, CHAPTER_NAMES, ALIASES, own={"f", "Net"}) == []


@pytest.mark.parametrize("path", cw.chapter_paths(), ids=lambda p: p.name)
def test_no_solution_of_the_book_is_flagged(path):
    nb = cw.read_notebook(path)
    solutions = {cw.grade_id(c): c.source for c in nb.cells if cw.is_solution(c) and c.cell_type == "code"}
    assert solutions and grade.review(nb, solutions) == {}


def test_a_finding_names_its_line():
    assert rv.findings("x = 1\n\nimport os\n", set(), {}) == ["line 3: imports os"]
