"""Grade submitted notebooks with the instructor's checks; print a score table and write a CSV.

Usage: python scripts/grade.py SUBMISSIONS --out grades      (make grade SUBMISSIONS=dir)

SUBMISSIONS holds one folder per student, each with any of the released notebooks (NN_name.ipynb).
Each notebook is identified (metadata.coursework.chapter, else its file name), then graded: the
student's cells, with every check cell replaced by the instructor's version from chapters/ (visible
and hidden tests; matched by grade id, placed right after the solution cell of its exercise), run
top to bottom in a fresh kernel with a time limit per notebook. An exercise scores its points when
its check cell runs without error. A notebook that is unreadable, for another chapter, too slow or
crashes the kernel gets a row saying so; the other students are graded as usual.
"""

import argparse
import copy
import csv
import json
import math
import multiprocessing
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

import coursework as cw

CSV_FIELDS = ["student", "chapter", "exercise", "points", "max", "status", "reason", "file"]
REASON_CHARS = 200
NOTES_CHARS = 100


class Ungradable(Exception):
    """A submission that cannot be graded; args: (status, reason)."""


# --- one submission (runs in a worker process) ------------------------------------------------

def load_submission(path):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise Ungradable("unreadable", "not a text file: hand in the saved .ipynb file") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise Ungradable("unreadable", f"not valid JSON (line {err.lineno}, column {err.colno}): "
                                       "hand in the saved .ipynb file") from None
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as err:  # JSON, but not a notebook nbformat can read
        raise Ungradable("unreadable", f"not a Jupyter notebook ({type(err).__name__}: {err})") from None


def identify_chapter(path, nb, known):
    """The chapter a submission is for: metadata.coursework.chapter, else its file name."""
    named = path.stem if path.stem in known else None
    claimed = cw.claimed_chapter(nb)
    if claimed and named and claimed != named:
        raise Ungradable("wrong chapter", f"{path.name} holds the notebook of chapter {claimed}")
    chapter = claimed if claimed in known else named
    if chapter is None:
        raise Ungradable("unknown chapter", f"{path.name} is not a released chapter notebook "
                                            f"(expected a name like {sorted(known)[0]}.ipynb)")
    return chapter


def check_exercises_belong(nb, instructor, chapter):
    expected = {cw.exercise_of(cw.grade_id(c)) for c in instructor.cells if cw.grade_id(c)}
    found = {cw.exercise_of(cw.grade_id(c)) for c in nb.cells if cw.grade_id(c)}
    if found and not found & expected:
        raise Ungradable("wrong chapter", f"its exercises ({', '.join(sorted(found))}) are not those of "
                                          f"{chapter} ({', '.join(sorted(expected))})")


def graded_notebook(submission, instructor):
    """The submission's cells, its check cells swapped for the instructor's, each placed after its solution.

    Returns (notebook, {exercise: index of its check cell}); an exercise without a solution cell is absent.
    """
    checks = cw.check_cells(instructor)
    check_ids = {cw.grade_id(c) for c in checks.values()}
    cells = [c for c in submission.cells if not cw.is_check(c) and cw.grade_id(c) not in check_ids]
    last_solution = {cw.grade_id(c): i for i, c in enumerate(cells) if cw.grade_id(c) in checks}
    graded, where = [], {}
    for i, cell in enumerate(cells):
        graded.append(cell)
        for exercise in (ex for ex, at in last_solution.items() if at == i):
            where[exercise] = len(graded)
            graded.append(copy.deepcopy(checks[exercise]))
    nb = copy.deepcopy(submission)
    nb.cells = graded
    return nb, where


def run_notebook(nb, limit, workdir):
    """Run every code cell in a fresh kernel, stopping at the time limit.

    Returns (execute replies by cell index, notebook status, reason).
    """
    replies = {}

    def record(cell, cell_index, execute_reply):
        replies[cell_index] = (execute_reply or {}).get("content", {})

    client = NotebookClient(
        nb, kernel_name="python3", allow_errors=True, record_timing=False, shutdown_kernel="immediate",
        on_cell_executed=record, resources={"metadata": {"path": workdir}},
    )
    deadline = time.monotonic() + limit
    try:
        with client.setup_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):  # kernel's own chatter
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CellTimeoutError("time limit reached between cells")
                client.timeout = math.ceil(remaining)
                client.execute_cell(cell, index)
    except CellTimeoutError:
        return replies, "timeout", f"still running after the {limit:g} s limit (an endless loop?); later checks not run"
    except DeadKernelError:
        return replies, "kernel died", "the kernel died (a crash, os._exit or out of memory); later checks not run"
    return replies, "ok", ""


def check_result(cell, reply):
    """(passed, reason) for one executed check cell."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if reply.get("status") == "ok" and not errors:
        return True, ""
    error = errors[0] if errors else reply
    name, value = error.get("ename", reply.get("status", "error")), str(error.get("evalue", ""))
    return False, (f"{name}: {value.splitlines()[0]}" if value.strip() else name)[:REASON_CHARS]


def score(instructor, nb, where, replies, status, reason):
    results = []
    for exercise, points in cw.exercises(instructor):
        row = {"exercise": exercise, "points": 0, "max": points}
        if exercise not in where:
            row.update(status="missing cell", reason=f"no solution cell with grade id {exercise} (deleted?)")
        elif where[exercise] in replies:
            passed, why = check_result(nb.cells[where[exercise]], replies[where[exercise]])
            row.update(points=points if passed else 0, status="passed" if passed else "failed", reason=why)
        else:
            row.update(status=status, reason=reason)
        results.append(row)
    return results


def failed_rows(instructor_path, status, reason):
    """Zero for every exercise of the chapter (one row without an exercise when the chapter is unknown)."""
    exercises = cw.exercises(cw.read_notebook(instructor_path)) if instructor_path else [("", 0)]
    return [{"exercise": ex, "points": 0, "max": points, "status": status, "reason": reason}
            for ex, points in exercises]


def grade_submission(student, path, chapters_dir, limit):
    """Rows (dicts with CSV_FIELDS) for one submitted notebook; never raises."""
    path = Path(path)
    known = {p.stem: p for p in cw.chapter_paths(chapters_dir)}
    chapter = path.stem if path.stem in known else None  # until the notebook itself says which
    try:
        nb = load_submission(path)
        chapter = identify_chapter(path, nb, known)
        instructor = cw.read_notebook(known[chapter])
        check_exercises_belong(nb, instructor, chapter)
        graded, where = graded_notebook(nb, instructor)
        with tempfile.TemporaryDirectory(prefix="grade-") as workdir:
            replies, status, reason = run_notebook(graded, limit, workdir)
        rows = score(instructor, graded, where, replies, status, reason)
    except Ungradable as err:
        rows = failed_rows(known.get(chapter), *err.args)
    except Exception as err:  # anything unforeseen stays this student's problem, not the batch's
        rows = failed_rows(known.get(chapter), "error", f"grading failed: {type(err).__name__}: {err}"[:REASON_CHARS])
    return [{"student": student, "chapter": chapter or "", "file": path.name, **row} for row in rows]


# --- the batch ----------------------------------------------------------------------------------

def submissions_of(folder):
    """{student: [notebook paths]} for each student folder (hidden folders skipped)."""
    students = sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))
    return {s.name: sorted(s.glob("*.ipynb")) for s in students}


def empty_folder_row(student):
    return {"student": student, "chapter": "", "file": "", "exercise": "", "points": 0, "max": 0,
            "status": "not submitted", "reason": f"no .ipynb file in {student}/"}


def grade_all(submissions, chapters_dir=cw.CHAPTERS, limit=120, workers=2, progress=None):
    """Grade every student's notebooks (in parallel worker processes); return the rows."""
    students = submissions_of(submissions)
    jobs = [(student, path) for student, paths in students.items() for path in paths]
    rows = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(grade_submission, s, str(p), str(chapters_dir), limit): (s, p) for s, p in jobs}
        for future in as_completed(futures):
            student, path = futures[future]
            try:
                result = future.result()
            except Exception as err:  # the worker process itself died
                result = [{"student": student, "chapter": "", "file": path.name, "exercise": "", "points": 0,
                           "max": 0, "status": "error", "reason": f"grader worker failed: {err}"}]
            rows.extend(result)
            if progress:
                progress(student, path, result)
    rows += [empty_folder_row(student) for student, paths in students.items() if not paths]
    catalog = {p.stem: cw.exercises(cw.read_notebook(p)) for p in cw.chapter_paths(chapters_dir)}
    rank = {(ch, ex): i for ch, exs in catalog.items() for i, (ex, _) in enumerate(exs)}
    rows.sort(key=lambda r: (r["chapter"], r["student"], r["file"], rank.get((r["chapter"], r["exercise"]), 0)))
    return rows


# --- reporting ------------------------------------------------------------------------------------

def fmt(points):
    return f"{points:g}"


def notes(rows):
    """A short summary of what went wrong in one notebook's rows ('' when every check passed)."""
    first_reason = {}
    for r in rows:
        if r["status"] != "passed":
            first_reason.setdefault(r["status"], r["reason"])
    parts = []
    for status, reason in first_reason.items():
        n = sum(r["status"] == status for r in rows)
        parts.append(f"{n} failed" if status == "failed" else
                     f"{n} missing cell" if status == "missing cell" else f"{status}: {reason}")
    summary = "; ".join(parts)
    return summary if len(summary) <= NOTES_CHARS else summary[: NOTES_CHARS - 3] + "..."


def table(chapter, rows):
    """The score table of one chapter: a line per submission, a column per exercise."""
    exercises = list(dict.fromkeys(r["exercise"] for r in rows))
    maxima = {r["exercise"]: r["max"] for r in rows}
    header = ["student"] + [f"{ex} ({fmt(maxima[ex])})" for ex in exercises] + ["total", "notes"]
    lines = []
    for key in dict.fromkeys((r["student"], r["file"]) for r in rows):
        mine = [r for r in rows if (r["student"], r["file"]) == key]
        points = {r["exercise"]: r["points"] for r in mine}
        label = key[0] if key[1] in ("", f"{chapter}.ipynb") else f"{key[0]} ({key[1]})"
        total = f"{fmt(sum(points.values()))}/{fmt(sum(maxima.values()))}"
        lines.append([label] + [fmt(points[ex]) for ex in exercises] + [total, notes(mine)])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]

    def render(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([f"== {chapter}", render(header)] + [render(line) for line in lines])


def report(rows):
    chapters = list(dict.fromkeys(r["chapter"] for r in rows if r["chapter"]))
    parts = [table(ch, [r for r in rows if r["chapter"] == ch]) for ch in chapters]
    unknown = [r for r in rows if not r["chapter"]]
    if unknown:
        parts.append("== not graded\n" + "\n".join(
            f"{r['student']}/{r['file']}: {r['status']}: {r['reason']}" for r in unknown))
    return "\n\n".join(parts)


def write_csv(rows, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows({**r, "points": fmt(r["points"]), "max": fmt(r["max"])} for r in rows)


def print_progress(student, path, rows):
    got, most = sum(r["points"] for r in rows), sum(r["max"] for r in rows)
    statuses = ", ".join(dict.fromkeys(r["status"] for r in rows))
    print(f"graded {student}/{path.name}: {fmt(got)}/{fmt(most)} ({statuses})", file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="folder with one subfolder of .ipynb files per student")
    parser.add_argument("--out", type=Path, default=Path("grades"), help="folder for scores.csv (default grades)")
    parser.add_argument("--chapters", type=Path, default=cw.CHAPTERS,
                        help="folder of the instructor notebooks (default: chapters/)")
    parser.add_argument("--limit", type=float, default=120, help="seconds each notebook may run (default 120)")
    parser.add_argument("--workers", type=int, default=2, help="notebooks graded in parallel (default 2)")
    args = parser.parse_args(argv)

    if not args.submissions.is_dir():
        what = "is not a folder" if args.submissions.exists() else "does not exist"
        parser.exit(2, f"error: submissions folder {args.submissions} {what} (expected one folder per student)\n")
    if not submissions_of(args.submissions):
        parser.exit(2, f"error: {args.submissions} has no student folders "
                       f"(expected {args.submissions}/<student>/NN_name.ipynb)\n")
    if not cw.chapter_paths(args.chapters):
        parser.exit(2, f"error: no chapter notebooks NN_name.ipynb in {args.chapters}\n")
    if args.limit <= 0 or args.workers < 1:
        parser.exit(2, "error: --limit must be positive and --workers at least 1\n")

    rows = grade_all(args.submissions, args.chapters, args.limit, args.workers, progress=print_progress)
    write_csv(rows, args.out / "scores.csv")
    print(report(rows))
    print(f"\nscores: {args.out / 'scores.csv'} (one row per student, chapter and exercise)")


if __name__ == "__main__":
    main()
