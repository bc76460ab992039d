"""The coursework convention (nbgrader's markers and cell metadata), shared by assignments.py and grade.py.

A *solution cell* carries nbgrader metadata {grade_id: "ex8-1", solution: true} and its answer between
`### BEGIN SOLUTION` / `### END SOLUTION`; a *check cell* carries {grade_id: "ex8-1-check", grade: true,
points: N}, plain asserts, and optionally `### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS`. A worked
prose answer sits in `<details><summary>Solution</summary> ... </details>`. See CONTRIBUTING.md.
"""

import copy
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
CHAPTER_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+$")

BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
PROSE_STUB = ["YOUR ANSWER HERE"]
PROSE_SOLUTION = re.compile(r"<details>\s*<summary>\s*Solution\s*</summary>.*?</details>", re.S | re.I)
PROSE_PLACEHOLDER = "*Your answer here.*"
MIN_CODE_EXERCISES = 2


# --- reading the convention -----------------------------------------------------------------

def chapter_paths(folder=CHAPTERS):
    """The chapter notebooks NN_name.ipynb of a folder, in order."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if CHAPTER_NAME.match(p.stem))


def chapter_number(name):
    return int(CHAPTER_NAME.match(name).group(1))


def read_notebook(path):
    return nbformat.read(str(path), as_version=4)


def nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell):
    return nbgrader(cell).get("grade_id")


def is_solution(cell):
    return bool(nbgrader(cell).get("solution"))


def is_check(cell):
    return bool(nbgrader(cell).get("grade")) and not is_solution(cell)


def exercise_of(check_id):
    """'ex8-1-check' -> 'ex8-1'."""
    return check_id.removesuffix("-check")


def check_cells(nb):
    """{exercise id: check cell}, in notebook order."""
    return {exercise_of(grade_id(c)): c for c in nb.cells if is_check(c) and grade_id(c)}


def exercises(nb):
    """[(exercise id, points)] of the auto-graded (code) exercises, in notebook order."""
    return [(ex, points_of(cell)) for ex, cell in check_cells(nb).items()]


def points_of(check):
    """The check cell's nbgrader points (0 when missing or not a number)."""
    points = nbgrader(check).get("points", 0)
    return points if isinstance(points, (int, float)) and not isinstance(points, bool) else 0


def chapter_title(nb):
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.strip():
            return cell.source.strip().splitlines()[0].lstrip("# ").strip()
    return ""


def marked_regions(source, begin, end):
    """The lines strictly inside each begin/end marker pair, as strings (ValueError if unbalanced)."""
    regions, inside = [], None
    for number, line in enumerate(source.splitlines(), 1):
        if begin in line:
            if inside is not None:
                raise ValueError(f"line {number}: '{begin}' inside another '{begin}' block")
            inside = []
        elif end in line:
            if inside is None:
                raise ValueError(f"line {number}: '{end}' without a '{begin}' before it")
            regions.append("\n".join(inside))
            inside = None
        elif inside is not None:
            inside.append(line)
    if inside is not None:
        raise ValueError(f"'{begin}' is never closed by '{end}'")
    return regions


def replace_regions(source, begin, end, stub):
    """Each begin..end block (markers included) replaced by the stub lines at the marker's indentation."""
    marked_regions(source, begin, end)  # refuse unbalanced markers: they would leak the rest
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            lines.extend(indent + s for s in stub)
        elif end in line:
            inside = False
        elif not inside:
            lines.append(line)
    return "\n".join(lines).rstrip() + ("\n" if source.endswith("\n") else "")


# --- the student version ----------------------------------------------------------------------

def stub_solution(cell):
    """nbgrader's stub: the solution region (or the whole cell without markers) becomes the stub."""
    stub = CODE_STUB if cell.cell_type == "code" else PROSE_STUB
    if BEGIN_SOLUTION not in cell.source:
        return "\n".join(stub)
    return replace_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, stub)


def strip_hidden_tests(source):
    return replace_regions(source, BEGIN_HIDDEN, END_HIDDEN, [])


def student_cell(cell):
    cell = copy.deepcopy(cell)
    if is_solution(cell):
        cell.source = stub_solution(cell)
        tags = [t for t in cell.metadata.get("tags", []) if t != "hide-input"]
        cell.metadata["tags"] = tags
        if not tags:
            del cell.metadata["tags"]
    elif is_check(cell):
        cell.source = strip_hidden_tests(cell.source)
    if cell.cell_type == "markdown":
        cell.source = PROSE_SOLUTION.sub(PROSE_PLACEHOLDER, cell.source)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    return cell


def student_version(nb, chapter):
    """The notebook a student receives: solutions stubbed, hidden tests removed, outputs cleared."""
    student = copy.deepcopy(nb)
    student.cells = [student_cell(c) for c in nb.cells]
    student.metadata["coursework"] = {"chapter": chapter}
    return student


def claimed_chapter(nb):
    """The chapter a student notebook says it is (None for a notebook without the field)."""
    return nb.get("metadata", {}).get("coursework", {}).get("chapter")


# --- the structural check ---------------------------------------------------------------------

def marker_problems(cells):
    problems = []
    for i, cell in cells:
        if (BEGIN_SOLUTION in cell.source or END_SOLUTION in cell.source) and not is_solution(cell):
            problems.append(f"cell {i} has solution markers but is not a solution cell (nbgrader solution: true)")
        if (BEGIN_HIDDEN in cell.source or END_HIDDEN in cell.source) and not is_check(cell):
            problems.append(f"cell {i} has hidden-test markers but is not a check cell (nbgrader grade: true)")
        for begin, end in ((BEGIN_SOLUTION, END_SOLUTION), (BEGIN_HIDDEN, END_HIDDEN)):
            try:
                marked_regions(cell.source, begin, end)
            except ValueError as err:
                problems.append(f"cell {i} ({grade_id(cell) or 'no grade id'}): {err}")
    return problems


def grade_id_problems(cells, number):
    problems, seen = [], set()
    for i, cell in cells:
        gid = grade_id(cell)
        if is_solution(cell) and nbgrader(cell).get("grade"):
            problems.append(f"cell {i} ({gid}) is marked both solution and grade: split it into two cells")
        if not gid:
            problems.append(f"cell {i} is a solution or check cell without an nbgrader grade_id")
            continue
        if gid in seen:
            problems.append(f"grade id {gid!r} is used twice (cell {i})")
        seen.add(gid)
        kind, suffix = ("check", "-check") if is_check(cell) else ("solution", "")
        if not re.fullmatch(rf"ex{number}-\d+{suffix}", gid):
            problems.append(f"cell {i}: {kind} grade id {gid!r} must be ex{number}-k{suffix} (k: the exercise number)")
    return problems


def solution_cell_problems(cells):
    problems = []
    for i, cell in cells:
        if not is_solution(cell):
            continue
        if "hide-input" not in cell.metadata.get("tags", []):
            problems.append(f"cell {i} ({grade_id(cell)}): solution cells are tagged hide-input")
        if cell.cell_type == "code" and BEGIN_SOLUTION not in cell.source:
            problems.append(f"cell {i} ({grade_id(cell)}): put the answer between "
                            f"### {BEGIN_SOLUTION} / ### {END_SOLUTION} inside the function body")
    return problems


def pairing_problems(cells):
    """Each check follows the solution cell of its exercise; each code solution has a check."""
    problems, solutions_so_far = [], set()
    checked = set()
    for i, cell in cells:
        if is_solution(cell):
            solutions_so_far.add(grade_id(cell))
        elif is_check(cell) and grade_id(cell):
            exercise = exercise_of(grade_id(cell))
            checked.add(exercise)
            if exercise not in solutions_so_far:
                problems.append(f"check cell {i} ({grade_id(cell)}) has no solution cell {exercise!r} before it")
            if not points_of(cell) > 0:
                problems.append(f"check cell {i} ({grade_id(cell)}) needs positive nbgrader points")
    for i, cell in cells:
        if is_solution(cell) and cell.cell_type == "code" and grade_id(cell) not in checked:
            problems.append(f"solution cell {i} ({grade_id(cell)}) has no check cell {grade_id(cell)}-check")
    if len(checked) < MIN_CODE_EXERCISES:
        problems.append(f"{len(checked)} code exercise(s) with a check cell: the convention asks for "
                        f"at least {MIN_CODE_EXERCISES}")
    return problems


def give_away_problems(nb):
    """A solution region found verbatim in another cell would still be there in the student version."""
    if marker_problems(list(enumerate(nb.cells))):
        return []  # reported by marker_problems; the regions are not well defined
    student, problems = student_version(nb, ""), []
    for i, cell in enumerate(nb.cells):
        regions = marked_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION) if is_solution(cell) else []
        for region in filter(None, (r.strip() for r in regions)):
            for j in (j for j, other in enumerate(student.cells) if region in other.source):
                problems.append(f"cell {i} ({grade_id(cell)}): its solution also appears in cell {j}, so the "
                                f"student version gives it away; change the exercise or that cell")
    return problems


def convention_problems(nb, number):
    """Problems, one sentence each, with a chapter's exercises; [] when it follows the convention."""
    cells = list(enumerate(nb.cells))
    graded = [(i, c) for i, c in cells if nbgrader(c).get("solution") or nbgrader(c).get("grade")]
    return (marker_problems(cells) + grade_id_problems(graded, number)
            + solution_cell_problems(graded) + pairing_problems(graded) + give_away_problems(nb))
