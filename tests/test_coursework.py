"""The coursework kit: student versions leak no solution, the grader scores what it should, bad input is contained.

Every chapter is checked; the grader runs the real chapters once (one batch: each chapter's instructor
version and its student version) and a tiny synthetic chapter for the bad-input cases.
"""

import contextlib
import copy
import csv
import io
import json
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import assignments
import coursework as cw
import grade

CHAPTERS = cw.chapter_paths()
SCRIPTS = cw.ROOT / "scripts"


# --- a synthetic chapter: a setup cell and two code exercises that run in about a second ----------

def solution_cell(exercise, code):
    return new_code_cell(code, metadata={"tags": ["hide-input"], "nbgrader": {
        "grade_id": exercise, "solution": True, "grade": False, "locked": False, "schema_version": 3}})


def check_cell(exercise, code, points):
    return new_code_cell(code, metadata={"nbgrader": {
        "grade_id": f"{exercise}-check", "grade": True, "points": points, "solution": False,
        "locked": True, "schema_version": 3}})


def synthetic_chapter(n):
    """Chapter n: ex{n}-1 (1 point, with hidden tests) and ex{n}-2 (2 points)."""
    return new_notebook(cells=[
        new_markdown_cell(f"# {n}. Synthetic\n\n## Learning objectives\n\n- square things"),
        new_code_cell("import math"),
        new_markdown_cell(f"## Exercises\n\n### Exercise {n}.1 (★): square\n\nWrite `square(x)`."),
        solution_cell(f"ex{n}-1", "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"),
        check_cell(f"ex{n}-1", 'assert square(3) == 9, "square(3) should be 9"\n'
                               '### BEGIN HIDDEN TESTS\nassert square(-4) == 16, "square must work for negative x"\n'
                               '### END HIDDEN TESTS', 1),
        new_markdown_cell(f"### Exercise {n}.2 (★★): why\n\nWhy?\n\n<details><summary>Solution</summary>\n\n"
                          "Because the secret prose answer.\n\n</details>"),
        new_markdown_cell(f"### Exercise {n}.3 (★★): hypotenuse\n\nWrite `hypotenuse(a, b)`."),
        solution_cell(f"ex{n}-2", "def hypotenuse(a, b):\n    ### BEGIN SOLUTION\n    return math.hypot(a, b)\n"
                                  "    ### END SOLUTION"),
        check_cell(f"ex{n}-2", 'assert abs(hypotenuse(3, 4) - 5) < 1e-12, "hypotenuse(3, 4) is 5"', 2),
        new_markdown_cell("## Interview questions\n\n**Q1. Why?**\n\n<details><summary>Answer</summary>\n\n"
                          "Kept for readers.\n\n</details>"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                 "language_info": {"name": "python"}})


def cell_with_id(nb, grade_id):
    return next(c for c in nb.cells if cw.grade_id(c) == grade_id)


def solve(nb, grade_id, body):
    """Put a student's answer in place of the stub of one exercise."""
    cell = cell_with_id(nb, grade_id)
    cell.source = cell.source.replace("# YOUR CODE HERE\n    raise NotImplementedError()", body)


def leaks(instructor, student):
    """What of the instructor's answers and hidden tests is still in a student version."""
    text = "\n".join(c.source for c in student.cells)
    found = [m for m in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS") if m in text]
    for cell in instructor.cells:
        if cw.is_solution(cell):
            regions = cw.marked_regions(cell.source, cw.BEGIN_SOLUTION, cw.END_SOLUTION) or [cell.source]
            stub_lines = {ln.strip() for ln in cell_with_id(student, cw.grade_id(cell)).source.splitlines()}
            found += [r.strip() for r in regions if r.strip() and r.strip() in text]
            found += [ln.strip() for r in regions for ln in r.splitlines() if ln.strip() in stub_lines - {""}]
        if cw.is_check(cell):
            hidden = cw.marked_regions(cell.source, cw.BEGIN_HIDDEN, cw.END_HIDDEN)
            found += [r.strip() for r in hidden if r.strip() in text]
        found += [m.group(0) for m in cw.PROSE_SOLUTION.finditer(cell.source) if m.group(0) in text]
    return found


def student_version_problems(instructor, student, chapter):
    problems = [f"leaks: {x!r}" for x in leaks(instructor, student)]
    for cell in student.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            problems.append(f"outputs not cleared: {cell.source[:40]!r}")
        if cw.is_solution(cell) and cell.cell_type == "code" and "raise NotImplementedError()" not in cell.source:
            problems.append(f"{cw.grade_id(cell)}: no NotImplementedError stub")
        if cw.is_solution(cell) and "hide-input" in cell.metadata.get("tags", []):
            problems.append(f"{cw.grade_id(cell)}: still tagged hide-input")
    if [cw.grade_id(c) for c in student.cells] != [cw.grade_id(c) for c in instructor.cells]:
        problems.append("nbgrader metadata not kept cell for cell")
    if cw.claimed_chapter(student) != chapter:
        problems.append("metadata.coursework.chapter does not name the chapter")
    return problems


# --- the convention, on every chapter and on broken notebooks -------------------------------------

@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_follows_the_coursework_convention(path):
    assert cw.convention_problems(cw.read_notebook(path), cw.chapter_number(path.stem)) == []


def test_the_synthetic_chapter_follows_the_convention():
    assert cw.convention_problems(synthetic_chapter(1), 1) == []


def broken_conventions():
    def drop_line(text):
        def mutate(nb):
            cell = cell_with_id(nb, "ex1-1")
            cell.source = cell.source.replace(text, "")
        return mutate

    def set_meta(cell_id, **fields):
        return lambda nb: cell_with_id(nb, cell_id).metadata["nbgrader"].update(fields)

    def hidden_unclosed(nb):
        cell = cell_with_id(nb, "ex1-1-check")
        cell.source = cell.source.replace("### END HIDDEN TESTS", "")

    def untagged(nb):
        cell_with_id(nb, "ex1-2").metadata["tags"] = []

    def no_markers(nb):
        cell_with_id(nb, "ex1-2").source = "def hypotenuse(a, b):\n    return math.hypot(a, b)"

    def markers_in_setup(nb):
        nb.cells[1].source += "\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"

    def delete(*ids):
        def mutate(nb):
            nb.cells = [c for c in nb.cells if cw.grade_id(c) not in ids]
        return mutate

    def solution_given_away(nb):
        nb.cells[1].source += "\n\ndef square_of(x):\n    return x * x"

    def check_before_solution(nb):
        nb.cells[3], nb.cells[4] = nb.cells[4], nb.cells[3]

    return [
        ("solution_never_closed", drop_line("### END SOLUTION")),
        ("solution_end_without_begin", drop_line("### BEGIN SOLUTION")),
        ("hidden_tests_never_closed", hidden_unclosed),
        ("duplicate_grade_id", set_meta("ex1-2", grade_id="ex1-1")),
        ("badly_named_grade_id", set_meta("ex1-1", grade_id="exercise1")),
        ("other_chapters_number", set_meta("ex1-2", grade_id="ex2-2")),
        ("check_named_without_suffix", set_meta("ex1-2-check", grade_id="ex1-2-test")),
        ("no_points", set_meta("ex1-2-check", points=0)),
        ("points_not_a_number", set_meta("ex1-2-check", points="two")),
        ("both_solution_and_grade", set_meta("ex1-2", grade=True)),
        ("solution_not_hide_input", untagged),
        ("solution_without_markers", no_markers),
        ("markers_outside_a_solution_cell", markers_in_setup),
        ("check_without_solution", delete("ex1-1")),
        ("solution_without_check", delete("ex1-2-check")),
        ("check_before_its_solution", check_before_solution),
        ("solution_given_away_elsewhere", solution_given_away),
        ("fewer_than_two_code_exercises", delete("ex1-2", "ex1-2-check")),
    ]


@pytest.mark.parametrize("name, mutate", broken_conventions(), ids=[c[0] for c in broken_conventions()])
def test_the_convention_check_fails_on_a_broken_notebook(name, mutate):
    nb = synthetic_chapter(1)
    mutate(nb)
    assert cw.convention_problems(nb, 1), f"{name}: the convention check did not notice"


# --- student versions -----------------------------------------------------------------------------

def test_the_stub_keeps_the_markers_indentation():
    source = "def f(x):\n    if x:\n        ### BEGIN SOLUTION\n        return 1\n        ### END SOLUTION\n    return 0\n"
    assert cw.stub_solution(solution_cell("ex1-1", source)) == (
        "def f(x):\n    if x:\n        # YOUR CODE HERE\n        raise NotImplementedError()\n    return 0\n")


def test_a_solution_cell_without_markers_is_stubbed_whole():
    cell = solution_cell("ex1-1", "answer = 42")
    assert cw.stub_solution(cell) == "# YOUR CODE HERE\nraise NotImplementedError()"


def test_unbalanced_markers_refuse_to_stub():
    with pytest.raises(ValueError, match="never closed"):
        cw.stub_solution(solution_cell("ex1-1", "def f():\n    ### BEGIN SOLUTION\n    return 1"))


def test_the_synthetic_student_version_hides_solutions():
    nb = synthetic_chapter(1)
    student = cw.student_version(nb, "01_synthetic")
    assert student_version_problems(nb, student, "01_synthetic") == []
    text = "\n".join(c.source for c in student.cells)
    assert "secret prose answer" not in text and cw.PROSE_PLACEHOLDER in text
    assert "Kept for readers." in text, "interview answers are reading material, not coursework"
    assert 'assert square(3) == 9' in text, "visible checks stay"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_version_hides_solutions(path):
    nb = cw.read_notebook(path)
    student = cw.student_version(nb, path.stem)
    assert student_version_problems(nb, student, path.stem) == []
    nbformat.validate(student)


def test_make_assignments_writes_a_release_and_refuses_a_broken_chapter(tmp_path, capsys):
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    nbformat.write(synthetic_chapter(1), chapters / "01_synthetic.ipynb")
    broken = synthetic_chapter(2)
    cell_with_id(broken, "ex2-1").source = "def square(x):\n    ### BEGIN SOLUTION\n    return x * x"
    nbformat.write(broken, chapters / "02_broken.ipynb")

    with pytest.raises(SystemExit) as exit_:
        assignments.main(["--out", str(tmp_path / "release"), "--chapters", str(chapters)])
    assert exit_.value.code != 0
    assert "02_broken.ipynb not released" in capsys.readouterr().err

    release = tmp_path / "release"
    assert sorted(p.name for p in release.iterdir()) == ["01_synthetic.ipynb", "README.md", "manifest.json"]
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["chapters"]["01_synthetic"]["exercises"] == [
        {"id": "ex1-1", "points": 1}, {"id": "ex1-2", "points": 2}]
    assert "`01_synthetic.ipynb`" in (release / "README.md").read_text()
    student = cw.read_notebook(release / "01_synthetic.ipynb")
    assert student_version_problems(synthetic_chapter(1), student, "01_synthetic") == []


# --- grading the real chapters: instructor versions full marks, student versions zero -------------

@pytest.fixture(scope="session")
def chapter_grades(tmp_path_factory):
    """One batch: student 'instructor' hands in every chapter as is, student 'student' its student version."""
    submissions = tmp_path_factory.mktemp("chapter_submissions")
    for who in ("instructor", "student"):
        (submissions / who).mkdir()
    for path in CHAPTERS:
        nb = cw.read_notebook(path)
        nbformat.write(nb, submissions / "instructor" / path.name)
        nbformat.write(cw.student_version(nb, path.stem), submissions / "student" / path.name)
    return grade.grade_all(submissions, limit=300, workers=2)


def rows_of(rows, student, chapter):
    return [r for r in rows if r["student"] == student and r["chapter"] == chapter]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_the_instructor_version_scores_full_marks(chapter_grades, path):
    rows = rows_of(chapter_grades, "instructor", path.stem)
    assert len(rows) >= cw.MIN_CODE_EXERCISES
    assert [(r["exercise"], r["status"], r["reason"]) for r in rows if r["points"] != r["max"]] == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_the_student_version_scores_zero(chapter_grades, path):
    rows = rows_of(chapter_grades, "student", path.stem)
    assert len(rows) >= cw.MIN_CODE_EXERCISES
    assert [(r["exercise"], r["points"], r["status"]) for r in rows if r["points"] or r["status"] != "failed"] == []


# --- grading bad input: each case gets its own result, the rest of the batch is graded -----------

def write(folder, name, nb_or_text):
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(nb_or_text, str):
        (folder / name).write_text(nb_or_text)
    else:
        nbformat.write(nb_or_text, folder / name)


def bad_batch(root):
    """The chapters 01_synthetic and 02_other, and one student folder per case."""
    chapters, subs = root / "chapters", root / "submissions"
    one, two = synthetic_chapter(1), synthetic_chapter(2)
    write(chapters, "01_synthetic.ipynb", one)
    write(chapters, "02_other.ipynb", two)
    student = cw.student_version(one, "01_synthetic")

    def variant(*changes):
        nb = copy.deepcopy(student)
        for change in changes:
            change(nb)
        return nb

    def solve_square(nb):
        solve(nb, "ex1-1", "return x * x")

    def scratch_cell_raises(nb):
        nb.cells.insert(2, new_code_cell("raise RuntimeError('scratch work')"))

    def loops_forever(nb):
        solve(nb, "ex1-2", "while True:\n        pass")

    def kills_the_kernel(nb):  # in a solution cell: the grader runs no other cell of the student's
        cell_with_id(nb, "ex1-1").source += "\n\nimport os\nos._exit(1)"

    def deleted_and_reordered(nb):
        solve(nb, "ex1-2", "return math.hypot(a, b)")
        moved = cell_with_id(nb, "ex1-2")
        nb.cells = [c for c in nb.cells if c is not moved and not cw.is_check(c) and cw.grade_id(c) != "ex1-1"]
        nb.cells.insert(2, moved)

    def tampered(nb):
        solve(nb, "ex1-1", "return 9")  # passes the visible check only
        for cell in nb.cells:
            if cw.is_check(cell):
                cell.source = "pass"

    write(subs / "full", "01_synthetic.ipynb", one)
    write(subs / "full", "02_other.ipynb", two)
    write(subs / "stub", "01_synthetic.ipynb", student)
    write(subs / "raises", "01_synthetic.ipynb", variant(solve_square, scratch_cell_raises))
    write(subs / "loops", "01_synthetic.ipynb", variant(solve_square, loops_forever))
    write(subs / "crash", "01_synthetic.ipynb", variant(solve_square, kills_the_kernel))
    write(subs / "reordered", "01_synthetic.ipynb", variant(deleted_and_reordered))
    write(subs / "tampered", "01_synthetic.ipynb", variant(tampered))
    write(subs / "badjson", "01_synthetic.ipynb", '{"cells": [ this is not JSON')
    write(subs / "wrongmeta", "01_synthetic.ipynb", cw.student_version(two, "02_other"))
    write(subs / "wrongids", "01_synthetic.ipynb", two)
    write(subs / "renamed", "my homework.ipynb", variant(solve_square))
    write(subs / "stray", "notes.ipynb", new_notebook())
    (subs / "empty").mkdir()
    return chapters, subs


# (student, chapter) -> {exercise: (points, status)}, and a word each reason must hold
EXPECTED = {
    ("full", "01_synthetic"): {"ex1-1": (1, "passed"), "ex1-2": (2, "passed")},
    ("full", "02_other"): {"ex2-1": (1, "passed"), "ex2-2": (2, "passed")},
    ("stub", "01_synthetic"): {"ex1-1": (0, "failed"), "ex1-2": (0, "failed")},
    ("raises", "01_synthetic"): {"ex1-1": (1, "passed"), "ex1-2": (0, "failed")},
    ("loops", "01_synthetic"): {"ex1-1": (1, "passed"), "ex1-2": (0, "timeout")},
    ("crash", "01_synthetic"): {"ex1-1": (0, "needs review"), "ex1-2": (0, "kernel died")},
    ("reordered", "01_synthetic"): {"ex1-1": (0, "missing cell"), "ex1-2": (2, "passed")},
    ("tampered", "01_synthetic"): {"ex1-1": (0, "failed"), "ex1-2": (0, "failed")},
    ("badjson", "01_synthetic"): {"ex1-1": (0, "unreadable"), "ex1-2": (0, "unreadable")},
    ("wrongmeta", "01_synthetic"): {"ex1-1": (0, "wrong chapter"), "ex1-2": (0, "wrong chapter")},
    ("wrongids", "01_synthetic"): {"ex1-1": (0, "wrong chapter"), "ex1-2": (0, "wrong chapter")},
    ("renamed", "01_synthetic"): {"ex1-1": (1, "passed"), "ex1-2": (0, "failed")},
    ("stray", ""): {"": (0, "unknown chapter")},
    ("empty", ""): {"": (0, "not submitted")},
}
REASONS = {
    ("stub", "ex1-1"): "NotImplementedError",
    ("tampered", "ex1-1"): "negative x",  # the hidden test's message: the instructor's checks ran
    ("loops", "ex1-2"): "5 s limit",
    ("badjson", "ex1-1"): "not valid JSON",
    ("wrongmeta", "ex1-1"): "02_other",
    ("wrongids", "ex1-1"): "ex2-1",
    ("reordered", "ex1-1"): "no solution cell",
    ("crash", "ex1-1"): "imports os",
}


@pytest.fixture(scope="session")
def bad_grades(tmp_path_factory):
    """`grade.py SUBMISSIONS --out grades` once over the whole batch: (CSV rows, printed table)."""
    root = tmp_path_factory.mktemp("bad_batch")
    chapters, subs = bad_batch(root)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        grade.main([str(subs), "--out", str(root / "grades"), "--chapters", str(chapters), "--limit", "5"])
    with open(root / "grades" / "scores.csv", newline="") as f:
        return list(csv.DictReader(f)), out.getvalue()


@pytest.mark.parametrize("student, chapter", EXPECTED, ids=[f"{s}-{c or 'none'}" for s, c in EXPECTED])
def test_each_submission_gets_its_result(bad_grades, student, chapter):
    rows = [r for r in bad_grades[0] if r["student"] == student and r["chapter"] == chapter]
    assert all(r["sandbox"] == ("bubblewrap" if r["file"] else "") for r in rows), "every graded row says where it ran"
    got = {r["exercise"]: (float(r["points"]), r["status"]) for r in rows}
    assert got == EXPECTED[student, chapter], [r["reason"] for r in rows]
    for row in rows:
        assert REASONS.get((student, row["exercise"]), "") in row["reason"]
        assert row["status"] == "passed" or row["reason"], "every lost point says why"


def test_the_batch_has_no_other_rows(bad_grades):
    assert {(r["student"], r["chapter"]) for r in bad_grades[0]} == set(EXPECTED)


def test_the_score_table_is_printed(bad_grades):
    table = bad_grades[1]
    assert "== 01_synthetic" in table and "== 02_other" in table and "== not graded" in table
    lines = {line.split()[0]: line for line in table.splitlines() if line and not line.startswith("==")}
    assert "3/3" in lines["full"] and "0/3" in lines["stub"] and "timeout" in lines["loops"]
    assert "renamed" in table and "my homework.ipynb" in table


def run_script(*args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", ["missing", "empty"])
def test_a_bad_submissions_folder_is_one_clear_line(tmp_path, case):
    folder = tmp_path / "submissions"
    if case == "empty":
        folder.mkdir()
    done = run_script(SCRIPTS / "grade.py", folder, "--out", tmp_path / "grades")
    assert done.returncode == 2
    assert done.stderr.startswith("error:") and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "grades").exists()

