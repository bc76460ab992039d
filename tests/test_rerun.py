"""A re-run must not break a chapter: run all, then run all again in the same kernel.

Readers run a chapter top to bottom, then run it again, or re-run a cell, without restarting the
kernel. So each chapter runs in ONE kernel, twice through: any error in the second run-all fails
(a later cell changed state that an earlier cell relies on). During the first run, after each cell,
the kinds of the notebook's global names are recorded: a cell that rebinds a function, class or
module name to a plain value (`sigmoid, relu = norms["sigmoid"], norms["relu"]` over the function
`sigmoid` that `ACTIVATIONS["sigmoid"]` calls) fails too, since re-running that cell, or any code
that calls the name, then raises. Run-all twice alone misses that one: the second run redefines the
function before the rebinding cell runs again. Only errors and rebindings are checked (a re-run's
numbers may differ). Cells tagged `raises-exception` may raise, as under nbval. The fixtures below
show the test failing on notebooks with each problem and passing on a fixed one.
"""

import json

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import book_checks as bc

CELL_TIMEOUT_S = 600
# Run silently in the kernel after each cell of the first run: the kind of each global name.
KINDS = """import json as _ffn_json, types as _ffn_types
print(_ffn_json.dumps({_k: ("module" if isinstance(_v, _ffn_types.ModuleType) else
                            "function" if isinstance(_v, (_ffn_types.FunctionType, _ffn_types.BuiltinFunctionType, type)) else
                            "value")
                       for _k, _v in list(globals().items())
                       if not _k.startswith("_") and _k not in ("In", "Out", "exit", "quit", "get_ipython")}))
del _ffn_json, _ffn_types"""


def first_line(cell):
    lines = cell.source.strip().splitlines()
    return f"`{lines[0][:60]}`" if lines else "(empty)"


def rerun_problem(nb, cwd):
    """None if the notebook survives run all + run all again; else what broke, in one sentence."""
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    cells = list(nb.cells)
    probe = nbformat.v4.new_code_cell(KINDS)
    nb.cells.append(probe)  # nbclient looks cells up by index: the probe is the last one
    try:
        return _run_twice(client, cells, probe)
    finally:
        nb.cells.pop()


def _run_twice(client, cells, probe):
    kinds, since = {}, {}
    with client.setup_kernel():
        for phase in ("the first run-all", "the second run-all"):
            for index, cell in enumerate(cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as err:
                    return (f"cell {index} ({first_line(cell)}) raised {err.ename}: {err.evalue} in {phase}: "
                            f"a later cell changed something this one relies on, or rebound a name it uses")
                if phase != "the first run-all":
                    continue
                probe.outputs = []
                client.execute_cell(probe, len(cells))
                now = json.loads("".join(o.get("text", "") for o in probe.outputs if o.get("name") == "stdout"))
                for name, kind in now.items():
                    if kinds.get(name) in ("function", "module") and kind == "value":
                        return (f"cell {index} ({first_line(cell)}) rebinds `{name}`, a {kinds[name]} since cell "
                                f"{since[name]}, to a plain value: re-running it, or any code that calls `{name}`, "
                                f"then fails; give the new value a new name")
                    if kinds.get(name) != kind:
                        kinds[name], since[name] = kind, index
    return None


@pytest.mark.parametrize("path", bc.chapter_paths(), ids=lambda p: p.name)
def test_chapter_survives_a_second_run(path):
    nb = nbformat.read(path, as_version=4)
    problem = rerun_problem(nb, path.parent)
    assert problem is None, f"{path.name}: {problem}"


# --- fixtures: the chapter 6 bug in miniature, and its fix ---------------------------------

SETUP = "import numpy as np"
DEFINE = '''def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


ACTIVATIONS = {"sigmoid": (sigmoid, lambda z: sigmoid(z) * (1.0 - sigmoid(z)))}'''
GRADIENT = 'grad = ACTIVATIONS["sigmoid"][1](np.zeros(3))\nprint(f"{grad[0]:.2f}")'
REBIND = 'norms = {"sigmoid": ACTIVATIONS["sigmoid"][1](np.ones(2))}\nsigmoid = norms["sigmoid"]  # rebinds the function\nprint(f"{sigmoid[0]:.3f}")'
NEW_NAME = 'norms = {"sigmoid": ACTIVATIONS["sigmoid"][1](np.ones(2))}\nsigmoid_norms = norms["sigmoid"]\nprint(f"{sigmoid_norms[0]:.3f}")'


def notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_rerun_fails_on_a_notebook_that_rebinds_a_function_name(tmp_path):
    nb = notebook(SETUP, DEFINE, GRADIENT, REBIND)
    problem = rerun_problem(nb, tmp_path)
    assert problem is not None, "the re-run test missed a cell that rebinds the function sigmoid"
    assert problem.startswith("cell 3 ") and "rebinds `sigmoid`, a function since cell 1" in problem, problem


def test_the_rebinding_fixture_does_break_on_a_rerun_of_the_cell(tmp_path):
    # What the rebinding check stands for: re-running the rebinding cell raises.
    nb = notebook(SETUP, DEFINE, GRADIENT, REBIND, REBIND)
    client = NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError, match="not callable"):
        client.execute()


def test_rerun_fails_when_a_later_cell_breaks_an_earlier_one(tmp_path):
    # The second run-all catches this one: a later cell changes global state that re-running the
    # earlier cells does not reset (re-importing numpy returns the same module).
    nb = notebook(SETUP + "\nimport warnings\nwarnings.simplefilter('ignore')",
                  "big = np.exp(np.array([800.0]))  # overflows to inf (a warning, ignored)",
                  "np.seterr(over='raise')  # global state: changes what the cell above does")
    problem = rerun_problem(nb, tmp_path)
    assert problem is not None, "the re-run test missed a later cell that breaks an earlier one"
    assert problem.startswith("cell 1 ") and "FloatingPointError" in problem and "second run-all" in problem, problem


def test_redefining_a_function_is_fine(tmp_path):
    nb = notebook(SETUP, DEFINE, "def sigmoid(z):  # a second version\n    return 0.5 * (1.0 + np.tanh(z / 2))", GRADIENT)
    assert rerun_problem(nb, tmp_path) is None


def test_rerun_passes_on_the_fixed_notebook(tmp_path):
    nb = notebook(SETUP, DEFINE, GRADIENT, NEW_NAME, GRADIENT)
    assert rerun_problem(nb, tmp_path) is None


def test_rerun_allows_a_tagged_error(tmp_path):
    nb = notebook(SETUP, "raise ValueError('shown on purpose')")
    nb.cells[1].metadata["tags"] = ["raises-exception"]
    assert rerun_problem(nb, tmp_path) is None
