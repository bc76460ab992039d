"""A re-run must not break a chapter: run all, then run all again in the same kernel.

Readers run a chapter top to bottom, then run it again, or re-run a cell they have just run, without
restarting the kernel. Both break when a cell rebinds a name that another cell (or itself) still
uses, e.g. `sigmoid, relu = norms["sigmoid"], norms["relu"]` over the function `sigmoid` that
`ACTIVATIONS["sigmoid"]` calls. So each chapter runs in ONE kernel: run all (as a reader's first
Run All), then run all again, executing each cell of that second pass twice in a row (a reader's
re-run of the cell just run). Three executions per cell, one kernel per chapter; only errors are
checked (outputs of a re-run may differ, e.g. a random stream that moved on). Cells tagged
`raises-exception` may raise, as under nbval. The fixtures below show the test failing on a
notebook that rebinds a function name and passing on one that uses a new name.
"""

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import book_checks as bc

CELL_TIMEOUT_S = 600


def rerun_problem(nb, cwd):
    """None if the notebook survives run all + run all again (each cell twice); else what broke."""
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    passes = [("the first run-all", 1), ("the second run-all", 2)]
    with client.setup_kernel():
        for phase, times in passes:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                for attempt in range(times):
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError as err:
                        when = phase if times == 1 else f"{phase}, {'first' if attempt == 0 else 'second'} execution of the cell"
                        source = cell.source.strip().splitlines()
                        return (f"cell {index} ({source[0][:60] if source else 'empty'!r}...) raised "
                                f"{err.ename}: {err.evalue} in {when}. A cell that rebinds a name other "
                                f"code still uses breaks a re-run: give the new value a new name")
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
    assert "cell 3" in problem and "TypeError" in problem and "not callable" in problem, problem
    assert "second execution of the cell" in problem, problem


def test_rerun_fails_when_a_later_cell_breaks_an_earlier_one(tmp_path):
    # The second run-all (not a cell's re-run) catches this one: a later cell changes global state
    # that re-running the earlier cells does not reset (re-importing numpy returns the same module).
    nb = notebook(SETUP + "\nimport warnings\nwarnings.simplefilter('ignore')",
                  "big = np.exp(np.array([800.0]))  # overflows to inf (a warning, ignored)",
                  "np.seterr(over='raise')  # global state: changes what the cell above does")
    problem = rerun_problem(nb, tmp_path)
    assert problem is not None, "the re-run test missed a later cell that breaks an earlier one"
    assert "cell 1" in problem and "FloatingPointError" in problem and "second run-all, first execution" in problem, problem


def test_rerun_passes_on_the_fixed_notebook(tmp_path):
    nb = notebook(SETUP, DEFINE, GRADIENT, NEW_NAME, GRADIENT)
    assert rerun_problem(nb, tmp_path) is None


def test_rerun_allows_a_tagged_error(tmp_path):
    nb = notebook(SETUP, "raise ValueError('shown on purpose')")
    nb.cells[1].metadata["tags"] = ["raises-exception"]
    assert rerun_problem(nb, tmp_path) is None


def test_fixture_cells_run_once_without_error(tmp_path):
    # The broken fixture is broken only on a re-run: its first run is clean.
    nb = notebook(SETUP, DEFINE, GRADIENT, REBIND)
    client = NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert [o.get("text", "").strip() for o in nb.cells[2].outputs] == ["0.25"]
