"""Hostile submissions: each attack that once earned marks now earns nothing and changes nothing.

One batch, graded once (sandboxed) against one small real chapter, 06_backpropagation (two code
exercises, about 5 s): honest and stub baselines, then one student per attack. Every attacker knows
the layout: the absolute paths of the checkout, the other submissions and the grades are written
into their notebooks. The test asserts that no attacker scores, that every attack is either
harmless (`failed`), caught (`needs review`) or refused at collection, and that the checkout,
the instructor's chapters, every submission and the results are byte for byte what they were.
"""

import copy
import os
import time
import uuid

import nbformat
import pytest
from nbformat.v4 import new_code_cell

import coursework as cw
from grader_helpers import processes_with, read_scores, require_sandbox, run_grade, tree_digest

CHAPTER = "06_backpropagation"
ROOT = cw.ROOT
TOKEN = f"ffn-detached-{uuid.uuid4().hex[:12]}"

# Answers with the right shapes and the wrong values: they pass only if the checks are fooled.
FAKE_LINEAR = ("def linear_backward(A_prev, W, delta):\n"
               "    return np.zeros_like(A_prev), np.zeros_like(W), np.zeros(W.shape[1])\n")
FAKE_SOFTMAX = "def softmax_backward(S, dS):\n    return np.zeros_like(S)\n"
PATCH = ("np.allclose = lambda *a, **k: True\n"
         "np.testing.assert_allclose = lambda *a, **k: None\n"
         "torch.allclose = lambda *a, **k: True\n")
TRANSFORMER = '''\
def _swallow(lines):  # wrap every later cell in try/except, and blank any cell with an assert
    if any("assert" in line for line in lines):
        return ["pass\\n"]
    return ["try:\\n"] + ["    " + line for line in lines] + ["\\nexcept BaseException:\\n", "    pass\\n"]
get_ipython().input_transformers_post.append(_swallow)
'''


def solution_sources(nb):
    return {cw.grade_id(c): c.source for c in nb.cells if cw.is_solution(c) and c.cell_type == "code"}


def set_solution(nb, grade_id, source):
    next(c for c in nb.cells if cw.grade_id(c) == grade_id).source = source


def add_cell(nb, source, before="ex6-2"):
    """A cell of the student's own, placed before an exercise (the grader never runs it)."""
    at = next(i for i, c in enumerate(nb.cells) if cw.grade_id(c) == before)
    nb.cells.insert(at, new_code_cell(source))


def attacks(paths):
    """{student: (notebook modifier, expected statuses by exercise)}; the notebook starts as the stub."""
    root, subs, grades, chapters = (str(p) for p in paths)
    victim = f"{subs}/honest_student/{CHAPTER}.ipynb"
    scores = f"{grades}/scores.csv"

    def fakes(nb):
        set_solution(nb, "ex6-2", FAKE_LINEAR)
        set_solution(nb, "ex6-4", FAKE_SOFTMAX)

    def own_cells(nb):  # patches and an IPython transformer in cells of the student's own
        fakes(nb)
        add_cell(nb, "import numpy as np\nimport torch\n" + PATCH)
        add_cell(nb, TRANSFORMER, before="ex6-4")

    def patch_solution(nb):
        fakes(nb)
        set_solution(nb, "ex6-2", PATCH + FAKE_LINEAR)

    def patch_when_called(nb):  # the patch runs inside the check itself, when it calls the answer
        set_solution(nb, "ex6-2", FAKE_LINEAR.replace("    return", "    " + PATCH.replace("\n", "\n    ")
                                                      + "return"))
        set_solution(nb, "ex6-4", FAKE_SOFTMAX)

    def transformer_solution(nb):
        fakes(nb)
        set_solution(nb, "ex6-2", TRANSFORMER + FAKE_LINEAR)

    def inspection(nb):  # return what the check computed, read from its frame; read its source
        set_solution(nb, "ex6-4", "import sys\n\ndef softmax_backward(S, dS):\n"
                                  "    return sys._getframe(1).f_globals['Z_t'].grad.numpy()\n")
        set_solution(nb, "ex6-2", "import inspect\n\ndef linear_backward(A_prev, W, delta):\n"
                                  "    caller = inspect.currentframe().f_back\n"
                                  "    g = caller.f_globals\n"
                                  "    return g['A_t'].grad.numpy(), g['W_t'].grad.numpy(), g['b_t'].grad.numpy()\n"
                                  "\nprint(In[-1], _ih)  # the check's source, hidden tests included\n")

    def reads_instructor(nb):  # find the instructor's notebook, take its solutions
        thief = f'''\
import glob, json, os, sys
candidates = [os.getcwd(), *sys.path, {root!r}, {chapters!r}, "/proc/1/cwd", "/proc/self/cwd"]
candidates += glob.glob("/proc/*/cwd") + [os.path.dirname(p) for p in glob.glob("/proc/*/environ")]
for env in glob.glob("/proc/*/environ"):
    try:
        candidates += [v.split("=", 1)[1] for v in open(env).read().split("\\0") if v.startswith("PWD=")]
    except OSError:
        pass
for folder in candidates:
    for up in range(4):
        path = os.path.join(folder, *[".."] * up, "chapters", "{CHAPTER}.ipynb")
        if os.path.exists(path):
            cells = json.load(open(path))["cells"]
            for cell in cells:
                if cell.get("metadata", {{}}).get("nbgrader", {{}}).get("solution"):
                    exec("".join(cell["source"]), globals())
            break
'''
        set_solution(nb, "ex6-2", FAKE_LINEAR + thief)
        set_solution(nb, "ex6-4", FAKE_SOFTMAX)

    def writes_everywhere(nb):  # sabotage a classmate, the chapter's checks and the grades
        vandal = f'''\
import os
for path, text in [({victim!r}, "sabotaged"), ({chapters + "/" + CHAPTER + ".ipynb"!r}, "{{}}"),
                   ({root + "/chapters/PWNED"!r}, "x"), ({scores!r}, "student,points\\nme,100"),
                   ({grades + "/PWNED"!r}, "x"), ("/tmp/PWNED-{TOKEN}", "x")]:
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError:
        pass
'''
        fakes(nb)
        set_solution(nb, "ex6-2", FAKE_LINEAR + vandal)
        add_cell(nb, vandal, before="ex6-4")

    def detached(nb):  # a process that outlives the kernel and rewrites the scores later
        later = (f"import time; time.sleep(6); open({scores!r}, 'w').write('me,100')  # {TOKEN}")
        code = f'''\
import os, subprocess, sys
subprocess.Popen([sys.executable, "-c", {later!r}], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", {later!r}])
    os._exit(0)
'''
        fakes(nb)
        set_solution(nb, "ex6-2", FAKE_LINEAR + code)

    def memory_bomb(nb):
        set_solution(nb, "ex6-2", "def linear_backward(A_prev, W, delta):\n"
                                  "    hoard = []\n    while True:\n"
                                  "        hoard.append(np.ones(2**25))  # 256 MB each, written\n")
        set_solution(nb, "ex6-4", "def softmax_backward(S, dS):\n    return np.empty(2**33) + S  # 64 GB at once\n")

    def equal_and_shell(nb):  # an object equal to anything; a shell escape
        set_solution(nb, "ex6-2", "class Anything:\n    shape = None\n"
                                  "    def __eq__(self, other):\n        return True\n\n"
                                  "def linear_backward(A_prev, W, delta):\n    return Anything(), Anything(), Anything()\n")
        set_solution(nb, "ex6-4", f"!cat {chapters}/{CHAPTER}.ipynb > /dev/null\n" + FAKE_SOFTMAX)

    review, failed = "needs review", "failed"
    return {
        "own_cells": (own_cells, {"ex6-2": failed, "ex6-4": failed}),
        "patch_solution": (patch_solution, {"ex6-2": review, "ex6-4": failed}),
        "patch_when_called": (patch_when_called, {"ex6-2": review, "ex6-4": failed}),
        "transformer_solution": (transformer_solution, {"ex6-2": review, "ex6-4": review}),
        "inspection": (inspection, {"ex6-2": review, "ex6-4": review}),
        "reads_instructor": (reads_instructor, {"ex6-2": review, "ex6-4": failed}),
        "writes_everywhere": (writes_everywhere, {"ex6-2": review, "ex6-4": failed}),
        "detached": (detached, {"ex6-2": review, "ex6-4": failed}),
        "memory_bomb": (memory_bomb, {"ex6-2": failed, "ex6-4": failed}),
        "equal_and_shell": (equal_and_shell, {"ex6-2": review, "ex6-4": review}),
    }


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """Grade the batch once; return what a test needs to judge it."""
    require_sandbox()
    base = tmp_path_factory.mktemp("attacks")
    chapters, subs, grades = base / "chapters", base / "submissions", base / "grades"
    for folder in (chapters, subs, grades):
        folder.mkdir()
    instructor = cw.read_notebook(cw.CHAPTERS / f"{CHAPTER}.ipynb")
    nbformat.write(instructor, chapters / f"{CHAPTER}.ipynb")
    stub = cw.student_version(instructor, CHAPTER)

    def hand_in(student, nb, name=f"{CHAPTER}.ipynb"):
        (subs / student).mkdir(exist_ok=True)
        nbformat.write(nb, subs / student / name)

    hand_in("honest_instructor", instructor)
    honest = copy.deepcopy(stub)
    for gid, source in solution_sources(instructor).items():
        set_solution(honest, gid, source)
    hand_in("honest_student", honest)
    hand_in("stub", stub)
    expected = {}
    for student, (modify, statuses) in attacks((ROOT, subs, grades, chapters)).items():
        nb = copy.deepcopy(stub)
        modify(nb)
        hand_in(student, nb)
        expected[student] = statuses
    # collection attacks
    (subs / "symlink").mkdir()
    (subs / "symlink" / f"{CHAPTER}.ipynb").symlink_to(chapters / f"{CHAPTER}.ipynb")
    (subs / "hardlink").mkdir()
    os.link(chapters / f"{CHAPTER}.ipynb", subs / "hardlink" / f"{CHAPTER}.ipynb")
    hand_in("duplicate", stub)
    hand_in("duplicate", stub, f"{CHAPTER} (1).ipynb")
    hand_in("upper_case", stub, f"{CHAPTER}.IPYNB")
    (grades / "keep.txt").write_text("the instructor's own notes\n")

    before = {"checkout": tree_digest(ROOT / "chapters", ROOT / "scripts", ROOT / "tests", ROOT / "book"),
              "instructor": tree_digest(chapters), "submissions": tree_digest(subs)}
    start = time.monotonic()
    code, out, err = run_grade(subs, "--out", grades, "--chapters", chapters, "--limit", 60,
                               "--memory-mb", 3072)
    seconds = time.monotonic() - start
    scores_after_run = (grades / "scores.csv").read_bytes()
    time.sleep(8)  # the detached writers wait 6 s: they must be dead by now
    after = {"checkout": tree_digest(ROOT / "chapters", ROOT / "scripts", ROOT / "tests", ROOT / "book"),
             "instructor": tree_digest(chapters), "submissions": tree_digest(subs)}
    graded = sum(1 for p in subs.iterdir() for _ in p.iterdir()) - 3  # symlink, hardlink, one duplicate
    print(f"\ngraded {graded} notebooks (sandboxed, 2 workers) in {seconds:.1f} s: "
          f"{seconds / graded * 2:.1f} s per notebook per worker")
    return {"code": code, "out": out, "err": err, "rows": read_scores(grades / "scores.csv"),
            "before": before, "after": after, "expected": expected, "grades": grades,
            "scores_after_run": scores_after_run, "seconds": seconds, "chapters": chapters}


def rows_of(attacked, student):
    return [r for r in attacked["rows"] if r["student"] == student]


def test_the_batch_ran(attacked):
    assert attacked["code"] == 0, attacked["err"]


@pytest.mark.parametrize("student", ["honest_instructor", "honest_student"])
def test_honest_work_gets_full_marks(attacked, student):
    rows = rows_of(attacked, student)
    assert {r["exercise"] for r in rows} >= {"ex6-2", "ex6-4"}, rows   # the attacks target these two
    assert all(r["status"] == "passed" for r in rows), rows
    assert all(r["points"] == r["max"] == "1" for r in rows)


def test_the_stub_gets_zero(attacked):
    rows = rows_of(attacked, "stub")
    assert {r["exercise"] for r in rows} >= {"ex6-2", "ex6-4"}, rows
    assert all((r["points"], r["status"]) == ("0", "failed") for r in rows), rows
    assert all("NotImplementedError" in r["reason"] for r in rows)


@pytest.mark.parametrize("student", list(attacks(("r", "s", "g", "c"))))
def test_an_attack_earns_nothing(attacked, student):
    rows = rows_of(attacked, student)
    got = {r["exercise"]: r["status"] for r in rows}
    expected = attacked["expected"][student]
    # the attacked exercises get the status they must; the chapter's other exercises, left as stubs, fail
    # (or need review, where an earlier solution touched the interpreter)
    assert {e: got.get(e) for e in expected} == expected, [(r["exercise"], r["status"], r["reason"]) for r in rows]
    assert all(got[e] in ("failed", "needs review") for e in got.keys() - expected.keys()), got
    assert all(r["points"] == "0" for r in rows)
    assert all(r["sandbox"] == "bubblewrap" for r in rows)


def test_flagged_code_is_named_in_the_reason(attacked):
    reasons = {(r["student"], r["exercise"]): r["reason"] for r in attacked["rows"]}
    assert "assigns to np.allclose" in reasons["patch_solution", "ex6-2"]
    assert "the checks passed" in reasons["patch_when_called", "ex6-2"], "the patch fooled the check: review it"
    assert "get_ipython" in reasons["transformer_solution", "ex6-2"]
    assert "imports sys" in reasons["inspection", "ex6-4"]
    assert "imports inspect" in reasons["inspection", "ex6-2"]
    assert "__eq__" in reasons["equal_and_shell", "ex6-2"]
    assert "not plain Python" in reasons["equal_and_shell", "ex6-4"]


def test_the_sandbox_hid_the_instructors_notebook(attacked):
    reason = next(r["reason"] for r in rows_of(attacked, "reads_instructor") if r["exercise"] == "ex6-2")
    assert "the checks failed" in reason, f"the thief found the solutions: {reason}"


def test_memory_bombs_hit_the_limit(attacked):
    rows = rows_of(attacked, "memory_bomb")
    reasons = [r["reason"] for r in rows if r["exercise"] in ("ex6-2", "ex6-4")]  # the two bombs
    assert len(reasons) == 2 and all("MemoryError" in r for r in reasons), reasons


@pytest.mark.parametrize("student, why", [("symlink", "symbolic link"), ("hardlink", "hard link")])
def test_links_are_refused(attacked, student, why):
    rows = rows_of(attacked, student)
    assert [(r["status"], r["points"], r["max"]) for r in rows] == [("refused", "0", "0")]
    assert why in rows[0]["reason"]


def test_a_duplicate_is_graded_once(attacked):
    rows = rows_of(attacked, "duplicate")
    graded = [r for r in rows if r["status"] != "duplicate"]
    assert {r["file"] for r in graded} == {f"{CHAPTER}.ipynb"} and len(graded) >= 2  # a row per exercise
    dup = [r for r in rows if r["status"] == "duplicate"]
    assert [(r["file"], r["max"]) for r in dup] == [(f"{CHAPTER} (1).ipynb", "0")]
    assert sum(float(r["max"]) for r in rows) == len(graded) and sum(float(r["points"]) for r in rows) == 0


def test_an_upper_case_extension_is_graded(attacked):
    rows = rows_of(attacked, "upper_case")
    assert len(rows) >= 2 and all((r["file"], r["status"], r["points"]) == (f"{CHAPTER}.IPYNB", "failed", "0") for r in rows)


@pytest.mark.parametrize("what", ["checkout", "instructor", "submissions"])
def test_nothing_was_changed(attacked, what):
    before, after = attacked["before"][what], attacked["after"][what]
    assert after == before, sorted(set(before.items()) ^ set(after.items()))[:5]


def test_the_results_are_the_graders_alone(attacked):
    grades = attacked["grades"]
    assert sorted(p.name for p in grades.iterdir()) == ["keep.txt", "scores.csv"]
    assert (grades / "keep.txt").read_text() == "the instructor's own notes\n"
    assert (grades / "scores.csv").read_bytes() == attacked["scores_after_run"], "rewritten after the run"
    assert not (cw.ROOT / "chapters" / "PWNED").exists() and not os.path.exists(f"/tmp/PWNED-{TOKEN}")


def test_no_process_outlives_its_notebook(attacked):
    assert processes_with(TOKEN) == []


def test_the_table_has_every_student(attacked):
    out = attacked["out"]
    for student in ("honest_instructor", "stub", "own_cells", "memory_bomb"):
        assert student in out
    assert "== not graded" in out and "symlink" in out and "duplicate" in out
