"""Grade submitted notebooks with the instructor's checks, each in a sandbox; print a table, write a CSV.

Usage: python scripts/grade.py SUBMISSIONS --out grades [--tests private/] [--no-sandbox] [--fresh]
       (make grade SUBMISSIONS=dir [TESTS=private/])

SUBMISSIONS holds one folder per student, each with any of the released notebooks (NN_name.ipynb).
Collection: symlinks, hard links and anything that is not a plain file inside the student's folder are
refused; extensions match case-insensitively; each notebook is identified (metadata.coursework.chapter,
else its file name); one notebook per student and chapter is graded, the others get `duplicate`.

Grading never trusts the student's notebook as a whole. A fresh kernel, in a bubblewrap sandbox
(scripts/sandbox.py: no network, no view of the checkout, the other submissions or the grades; memory,
process, file and time limits), runs the instructor's notebook from chapters/ with only its solution
cells taken from the submission (matched by grade id). The other cells the student wrote never run.
The checks (visible, hidden, and the private tests of --tests) reach the kernel only over its
messaging channel, never its disk, and before each check the comparison functions of numpy, torch
and math and the builtins are restored from a snapshot taken before any student code ran. A solution
whose code touches the interpreter (scripts/sandbox_review.py: imports such as os/sys/inspect, exec,
open, frame inspection, monkeypatching...) gets `needs review` and no points. An exercise scores its
points when its check cell runs without error.

Each notebook's rows are appended to OUT/scores.csv (flushed and synced) as soon as it is graded, so
a crash loses nothing; a rerun skips the notebooks already there (--fresh starts over).
"""

import argparse
import ast
import concurrent.futures
import contextlib
import copy
import csv
import json
import math
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

import coursework as cw
import sandbox
import sandbox_review

CSV_FIELDS = ["student", "chapter", "exercise", "points", "max", "status", "reason", "file", "sandbox"]
REASON_CHARS = 200
NOTES_CHARS = 100
SANDBOXED, UNSANDBOXED = "bubblewrap", "NONE (--no-sandbox)"
NOT_GRADED = {"refused", "duplicate", "unknown chapter", "not submitted"}
PRIVATE_MARK = "# %%"

# Run in the kernel before any student code: a snapshot of what the checks compare with.
GUARD = """\
def _grader_guard():
    import builtins, math
    import numpy, numpy.testing, torch, torch.testing
    saved = [(m, n, getattr(m, n)) for m, names in (
        (numpy, ["allclose", "isclose", "array_equal", "all", "any", "abs", "asarray", "array", "isfinite"]),
        (numpy.testing, ["assert_allclose", "assert_array_equal", "assert_equal", "assert_array_almost_equal"]),
        (torch, ["allclose", "isclose", "equal", "all", "any", "abs", "tensor"]),
        (torch.testing, ["assert_close"]),
        (math, ["isclose", "isfinite", "inf", "nan"])) for n in names]
    builtins_saved = dict(vars(builtins))
    def restore():
        for module, name, value in saved:
            setattr(module, name, value)
        vars(builtins).update(builtins_saved)
    return restore
_grader_restore = _grader_guard()
del _grader_guard
"""
RESTORE = "_grader_restore()"
GUARD_SECONDS = 120


class Ungradable(Exception):
    """A submission that cannot be graded; args: (status, reason)."""


# --- reading a submission ---------------------------------------------------------------------

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


def stem_of(path):
    """The file name without a case-insensitive .ipynb."""
    name = Path(path).name
    return name[:-6] if name.lower().endswith(".ipynb") else Path(path).stem


def identify_chapter(path, nb, known):
    """The chapter a submission is for: metadata.coursework.chapter, else its file name."""
    stem = stem_of(path)
    named = stem if stem in known else None
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


# --- private tests ------------------------------------------------------------------------------

def read_private_tests(folder, chapters_dir):
    """{chapter: {exercise: code}} from FOLDER/NN_name.py (blocks headed `# %% exN-k`); ValueError if bad."""
    known = {p.stem: p for p in cw.chapter_paths(chapters_dir)}
    tests = {}
    for path in sorted(Path(folder).glob("*.py")):
        if path.stem not in known:
            raise ValueError(f"{path}: no chapter {path.stem} in {chapters_dir} (name the file NN_name.py)")
        exercises = dict(cw.exercises(cw.read_notebook(known[path.stem])))
        blocks, current = {}, None
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith(PRIVATE_MARK):
                current = line[len(PRIVATE_MARK):].strip()
                if current not in exercises:
                    raise ValueError(f"{path}:{number}: {current!r} is not an exercise of {path.stem} "
                                     f"({', '.join(exercises)})")
                if current in blocks:
                    raise ValueError(f"{path}:{number}: a second block for {current}")
                blocks[current] = []
            elif current is None:
                if line.strip() and not line.lstrip().startswith("#"):
                    raise ValueError(f"{path}:{number}: code before the first '# %% exN-k' line")
            else:
                blocks[current].append(line)
        for exercise, lines in blocks.items():
            code = "\n".join(lines).strip("\n")
            try:
                ast.parse(code)
            except SyntaxError as err:
                raise ValueError(f"{path}: the block of {exercise} does not parse: {err}") from None
            blocks[exercise] = code
        tests[path.stem] = blocks
    if not tests:
        raise ValueError(f"no private tests NN_name.py in {folder}")
    return tests


# --- the notebook that is run: the instructor's, with the student's solution cells ---------------

def graded_notebook(submission, instructor, private=None):
    """The instructor's notebook with each solution cell's code taken from the submission.

    Returns (notebook, {exercise: index of its check cell}, {exercise: solution code}, missing exercises).
    Check cells are the instructor's (plus the private tests), each preceded by the guard's restore.
    """
    private = private or {}
    answers = {}
    for cell in submission.cells:
        gid = cw.grade_id(cell)
        if cell.cell_type == "code" and cw.is_solution(cell) and gid:
            answers.setdefault(gid, []).append(cell.source)
    checks = cw.check_cells(instructor)
    cells, where, solutions, missing = [nbformat.v4.new_code_cell(GUARD)], {}, {}, set()
    for cell in instructor.cells:
        if cell.cell_type != "code":
            continue
        cell = copy.deepcopy(cell)
        cell.outputs, cell.execution_count = [], None
        gid = cw.grade_id(cell)
        if cw.is_solution(cell):
            if gid in answers:
                cell.source = solutions[gid] = "\n\n".join(answers[gid])
            else:
                cell.source, solutions[gid] = "", ""
                missing.add(gid)
        elif cw.is_check(cell):
            exercise = cw.exercise_of(gid)
            cells.append(nbformat.v4.new_code_cell(RESTORE))
            if exercise in private:
                cell.source = cell.source.rstrip("\n") + "\n" + private[exercise]
            where[exercise] = len(cells)
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(instructor.metadata))
    return nb, {ex: i for ex, i in where.items() if ex in checks}, solutions, missing


def review(instructor, solutions):
    """{exercise: [findings]} for the solutions whose code needs a human look."""
    protected, aliases, own = sandbox_review.protected_names(
        [c.source for c in instructor.cells if c.cell_type == "code" and not cw.is_solution(c)],
        [c.source for c in instructor.cells if cw.is_check(c)]), {}, {}
    for cell in instructor.cells:
        if cell.cell_type != "code":
            continue
        if cw.is_solution(cell):
            own[cw.grade_id(cell)] = sandbox_review.bound_names(cell.source)
        else:
            aliases.update(sandbox_review.module_aliases(cell.source))
    flagged = {}
    for gid, source in solutions.items():
        found = sandbox_review.findings(source, protected, aliases, own.get(gid, set()))
        if found:
            flagged[cw.exercise_of(gid)] = found
    return flagged


# --- running it -----------------------------------------------------------------------------------

def run_notebook(nb, limit, use_sandbox, limits=None):
    """Run every code cell in a fresh kernel (sandboxed unless told not to), stopping at the time limit.

    Returns (execute replies by cell index, notebook status, reason).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    replies = {}

    def record(cell, cell_index, execute_reply):
        replies[cell_index] = (execute_reply or {}).get("content", {})

    with contextlib.ExitStack() as stack:
        if use_sandbox:
            box = stack.enter_context(sandbox.Sandbox(limits))
            km, workdir = box.kernel_manager(), box.private
        else:
            km, workdir = None, stack.enter_context(tempfile.TemporaryDirectory(prefix="grade-"))
        client = NotebookClient(
            nb, km=km, kernel_name="python3", allow_errors=True, record_timing=False,
            shutdown_kernel="immediate", on_cell_executed=record, resources={"metadata": {"path": workdir}},
        )
        try:
            with client.setup_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
                client.timeout = GUARD_SECONDS  # the grader's own first cell: not the student's time
                client.execute_cell(nb.cells[0], 0)
                deadline = time.monotonic() + limit
                for index, cell in enumerate(nb.cells[1:], 1):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise CellTimeoutError("time limit reached between cells")
                    client.timeout = math.ceil(remaining)
                    client.execute_cell(cell, index)
        except CellTimeoutError:
            return replies, "timeout", f"still running after the {limit:g} s limit (an endless loop?); later checks not run"
        except DeadKernelError:
            return replies, "kernel died", ("the kernel died (a crash, os._exit or out of memory); "
                                            "later checks not run")
    return replies, "ok", ""


def check_result(cell, reply):
    """(passed, reason) for one executed check cell."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if reply.get("status") == "ok" and not errors:
        return True, ""
    error = errors[0] if errors else reply
    name, value = error.get("ename", reply.get("status", "error")), str(error.get("evalue", ""))
    return False, (f"{name}: {value.splitlines()[0]}" if value.strip() else name)[:REASON_CHARS]


def score(instructor, nb, where, replies, status, reason, missing=(), flagged=None):
    flagged = flagged or {}
    results, first_flagged = [], None
    for exercise, points in cw.exercises(instructor):
        row = {"exercise": exercise, "points": 0, "max": points}
        if exercise in missing or exercise not in where:
            row.update(status="missing cell", reason=f"no solution cell with grade id {exercise} (deleted?)")
        elif where[exercise] in replies:
            passed, why = check_result(nb.cells[where[exercise]], replies[where[exercise]])
            row.update(points=points if passed else 0, status="passed" if passed else "failed", reason=why)
        else:
            row.update(status=status, reason=reason)
        if exercise in flagged:
            found = flagged[exercise]
            listed = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
            row.update(points=0, status="needs review",
                       reason=f"{verdict_of(row)}; read the solution: {listed}"[:REASON_CHARS])
        elif row["status"] == "passed" and first_flagged is not None:
            row.update(points=0, status="needs review", reason=(
                f"{verdict_of(row)}, but after the flagged code of {first_flagged}, which could have changed "
                "the checks that follow it"))
        if exercise in flagged and first_flagged is None:
            first_flagged = exercise
        results.append(row)
    return results


def verdict_of(row):
    return {"passed": "the checks passed", "failed": f"the checks failed ({row['reason']})"}.get(
        row["status"], f"{row['status']} ({row['reason']})")


def failed_rows(instructor_path, status, reason):
    """Zero for every exercise of the chapter (one row without an exercise when the chapter is unknown)."""
    exercises = cw.exercises(cw.read_notebook(instructor_path)) if instructor_path else [("", 0)]
    return [{"exercise": ex, "points": 0, "max": points, "status": status, "reason": reason}
            for ex, points in exercises]


def grade_submission(student, path, chapters_dir, limit, use_sandbox=True, private=None, limits=None):
    """Rows (dicts with CSV_FIELDS) for one submitted notebook; never raises."""
    path = Path(path)
    known = {p.stem: p for p in cw.chapter_paths(chapters_dir)}
    chapter = stem_of(path) if stem_of(path) in known else None  # until the notebook itself says which
    try:
        nb = load_submission(path)
        chapter = identify_chapter(path, nb, known)
        instructor = cw.read_notebook(known[chapter])
        check_exercises_belong(nb, instructor, chapter)
        graded, where, solutions, missing = graded_notebook(nb, instructor, (private or {}).get(chapter))
        flagged = review(instructor, solutions)
        replies, status, reason = run_notebook(graded, limit, use_sandbox, limits)
        rows = score(instructor, graded, where, replies, status, reason,
                     {cw.exercise_of(g) for g in missing}, flagged)
    except Ungradable as err:
        rows = failed_rows(known.get(chapter), *err.args)
    except Exception as err:  # anything unforeseen stays this student's problem, not the batch's
        rows = failed_rows(known.get(chapter), "error", f"grading failed: {type(err).__name__}: {err}"[:REASON_CHARS])
    where_run = SANDBOXED if use_sandbox else UNSANDBOXED
    return [{"student": student, "chapter": chapter or "", "file": path.name, "sandbox": where_run, **row}
            for row in rows]


# --- collection -----------------------------------------------------------------------------------

def refusal(path, folder, instructor_files=frozenset()):
    """Why a submitted path is refused ('' when it is a plain notebook file inside the student's folder).

    instructor_files: {(device, inode)} of the chapter notebooks, to refuse hard links to them.
    """
    try:
        info = os.lstat(path)
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link, not a file: hand in the notebook itself"
    if not stat.S_ISREG(info.st_mode):
        return "not a plain file"
    if info.st_nlink > 1 and (info.st_dev, info.st_ino) in instructor_files:
        return "a hard link to the instructor's notebook, not the student's work"
    if not Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder)):
        return "resolves outside the student's folder"
    return ""


def collect(folder, chapters_dir=cw.CHAPTERS):
    """(jobs [(student, path)], rows for what is not graded: refused, duplicates, empty folders)."""
    known = {p.stem for p in cw.chapter_paths(chapters_dir)}
    instructor_files = {(p.stat().st_dev, p.stat().st_ino) for p in Path(chapters_dir).iterdir() if p.is_file()}
    jobs, rows = [], []

    def note(student, file, status, reason, chapter=""):
        rows.append({"student": student, "chapter": chapter, "file": file, "exercise": "", "points": 0,
                     "max": 0, "status": status, "reason": reason, "sandbox": ""})

    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith("."):
            continue
        student = entry.name
        if entry.is_symlink():
            note(student, "", "refused", f"{student}/ is a symbolic link, not a student's folder")
            continue
        if not entry.is_dir():
            continue
        notebooks = []
        for path in sorted(entry.iterdir()):
            if not path.name.lower().endswith(".ipynb"):
                continue
            why = refusal(path, entry, instructor_files)
            if why:
                note(student, path.name, "refused", why)
            else:
                notebooks.append(path)
        if not notebooks and not any(r["student"] == student for r in rows):
            note(student, "", "not submitted", f"no .ipynb file in {student}/")
        by_chapter = {}
        for path in notebooks:
            by_chapter.setdefault(chapter_guess(path, known), []).append(path)
        for chapter, paths in by_chapter.items():
            if chapter is None or len(paths) == 1:
                jobs += [(student, p) for p in paths]
                continue
            chosen = max(paths, key=lambda p: (stem_of(p) == chapter, p.stat().st_mtime, p.name))
            jobs.append((student, chosen))
            for other in paths:
                if other != chosen:
                    note(student, other.name, "duplicate",
                         f"another notebook of {chapter} was graded: {chosen.name}", chapter)
    return jobs, rows


def chapter_guess(path, known):
    """The chapter a file is for, as cheaply as grading would decide it (None when it cannot tell)."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        claimed = nb.get("metadata", {}).get("coursework", {}).get("chapter")
    except Exception:
        claimed = None
    if claimed in known:
        return claimed
    return stem_of(path) if stem_of(path) in known else None


# --- the batch ----------------------------------------------------------------------------------

def submissions_of(folder):
    """{student: [notebook paths]}: what would be graded (refused files and duplicates left out)."""
    jobs, _ = collect(folder)
    students = {}
    for student, path in jobs:
        students.setdefault(student, []).append(path)
    return students


def worker_rows(job):
    """Grade one notebook in its own process, so a crash or an out-of-memory kill stays its own."""
    student, path, config = job
    limit = config["limit"]
    try:
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker"],
                              input=json.dumps({**config, "student": student, "path": str(path)}),
                              capture_output=True, text=True, timeout=limit + 120)
        if done.returncode == 0:
            return json.loads(done.stdout.strip().splitlines()[-1])
        why = f"exit status {done.returncode}: {(done.stderr.strip().splitlines() or [''])[-1]}"
    except subprocess.TimeoutExpired:
        why = f"the grader's worker did not finish within {limit + 120:g} s"
    except (ValueError, IndexError) as err:
        why = f"unreadable worker output ({err})"
    return [{"student": student, "chapter": "", "file": Path(path).name, "exercise": "", "points": 0, "max": 0,
             "status": "error", "reason": f"grader worker failed: {why}"[:REASON_CHARS],
             "sandbox": SANDBOXED if config["sandbox"] else UNSANDBOXED}]


def grade_all(submissions, chapters_dir=cw.CHAPTERS, limit=300, workers=2, progress=None, use_sandbox=True,
              private=None, done=frozenset(), on_rows=None, memory_mb=sandbox.Limits.memory_mb):
    """Grade every student's notebooks (each in its own worker process); return the new rows.

    done: {(student, file)} already graded (skipped); on_rows(rows) is called as each notebook finishes.
    """
    jobs, rows = collect(submissions, chapters_dir)
    rows = [r for r in rows if (r["student"], r["file"]) not in done]
    if on_rows and rows:
        on_rows(rows)
    config = {"chapters": str(chapters_dir), "limit": limit, "sandbox": use_sandbox, "private": private or {},
              "memory_mb": memory_mb}
    todo = [(s, p, config) for s, p in jobs if (s, p.name) not in done]
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(worker_rows, job): job for job in todo}
        for future in concurrent.futures.as_completed(futures):
            student, path, _ = futures[future]
            result = future.result()
            if on_rows:
                on_rows(result)
            rows.extend(result)
            if progress:
                progress(student, path, result)
    return sort_rows(rows, chapters_dir)


def sort_rows(rows, chapters_dir=cw.CHAPTERS):
    catalog = {p.stem: cw.exercises(cw.read_notebook(p)) for p in cw.chapter_paths(chapters_dir)}
    rank = {(ch, ex): i for ch, exs in catalog.items() for i, (ex, _) in enumerate(exs)}
    return sorted(rows, key=lambda r: (r["chapter"], r["student"], r["file"],
                                       rank.get((r["chapter"], r["exercise"]), 0)))


# --- results: appended as they come, resumable ------------------------------------------------------

def read_results(path):
    """The complete rows of an existing scores.csv ([] if none); ValueError if it is not one of ours."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != CSV_FIELDS:
            raise ValueError(f"{path} has columns {reader.fieldnames}, not {CSV_FIELDS}: pass --fresh to start over")
        rows = [r for r in reader if None not in r.values() and None not in r]
    for r in rows:
        r["points"], r["max"] = float(r["points"]), float(r["max"])
    return rows


class Results:
    """scores.csv, written row block by row block (append, flush, fsync)."""

    def __init__(self, path, keep):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(keep, path)  # the complete rows of an earlier run, rewritten whole before appending

    def append(self, rows):
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, fieldnames=CSV_FIELDS).writerows(csv_row(r) for r in rows)
            f.flush()
            os.fsync(f.fileno())


def csv_row(r):
    return {**{k: r.get(k, "") for k in CSV_FIELDS}, "points": fmt(r["points"]), "max": fmt(r["max"])}


def write_csv(rows, path):
    """Write rows to path atomically (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(csv_row(r) for r in rows)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
    if any(r.get("sandbox") == UNSANDBOXED for r in rows):
        parts.insert(0, "NO SANDBOX")
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
        lines.append([label] + [fmt(points.get(ex, 0)) for ex in exercises] + [total, notes(mine)])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=False)]

    def render(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([f"== {chapter}", render(header)] + [render(line) for line in lines])


def report(rows):
    graded = [r for r in rows if r["chapter"] and r["status"] not in NOT_GRADED]
    chapters = list(dict.fromkeys(r["chapter"] for r in graded))
    parts = [table(ch, [r for r in graded if r["chapter"] == ch]) for ch in chapters]
    other = [r for r in rows if r not in graded]
    if other:
        parts.append("== not graded\n" + "\n".join(
            f"{r['student']}/{r['file']}: {r['status']}: {r['reason']}" for r in other))
    if any(r.get("sandbox") == UNSANDBOXED for r in rows):
        parts.insert(0, "WARNING: graded with --no-sandbox: the students' code ran with your permissions")
    return "\n\n".join(parts)


def print_progress(student, path, rows):
    got, most = sum(r["points"] for r in rows), sum(r["max"] for r in rows)
    statuses = ", ".join(dict.fromkeys(r["status"] for r in rows))
    print(f"graded {student}/{path.name}: {fmt(got)}/{fmt(most)} ({statuses})", file=sys.stderr, flush=True)


def worker_main():
    config = json.loads(sys.stdin.read())
    limits = sandbox.Limits(memory_mb=config.get("memory_mb", sandbox.Limits.memory_mb))
    rows = grade_submission(config["student"], config["path"], config["chapters"], config["limit"],
                            config["sandbox"], config["private"], limits)
    print(json.dumps(rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="folder with one subfolder of .ipynb files per student")
    parser.add_argument("--out", type=Path, default=Path("grades"), help="folder for scores.csv (default grades)")
    parser.add_argument("--chapters", type=Path, default=cw.CHAPTERS,
                        help="folder of the instructor notebooks (default: chapters/)")
    parser.add_argument("--tests", type=Path, help="folder of private tests NN_name.py (see README)")
    parser.add_argument("--limit", type=float, default=300, help="seconds each notebook may run (default 300)")
    parser.add_argument("--workers", type=int, default=2, help="notebooks graded in parallel (default 2)")
    parser.add_argument("--memory-mb", type=int, default=sandbox.Limits.memory_mb,
                        help=f"memory each sandboxed notebook may use (default {sandbox.Limits.memory_mb})")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run students' code unsandboxed, with your permissions (the report says so)")
    parser.add_argument("--fresh", action="store_true", help="start over instead of resuming OUT/scores.csv")
    args = parser.parse_args(argv)

    if not args.submissions.is_dir():
        what = "is not a folder" if args.submissions.exists() else "does not exist"
        parser.exit(2, f"error: submissions folder {args.submissions} {what} (expected one folder per student)\n")
    if not any(p.is_dir() and not p.name.startswith(".") for p in args.submissions.iterdir()):
        parser.exit(2, f"error: {args.submissions} has no student folders "
                       f"(expected {args.submissions}/<student>/NN_name.ipynb)\n")
    if not cw.chapter_paths(args.chapters):
        parser.exit(2, f"error: no chapter notebooks NN_name.ipynb in {args.chapters}\n")
    if args.limit <= 0 or args.workers < 1 or args.memory_mb < 512:
        parser.exit(2, "error: --limit must be positive, --workers at least 1 and --memory-mb at least 512\n")
    private = {}
    if args.tests is not None:
        if not args.tests.is_dir():
            parser.exit(2, f"error: --tests {args.tests} is not a folder of private tests NN_name.py\n")
        try:
            private = read_private_tests(args.tests, args.chapters)
        except ValueError as err:
            parser.exit(2, f"error: private tests: {err}\n")
    if not args.no_sandbox:
        ok, why = sandbox.probe()
        if not ok:
            parser.exit(2, f"error: no sandbox for the students' code: {why} (or pass --no-sandbox to run it "
                           "with your own permissions)\n")
    scores = args.out / "scores.csv"
    try:
        earlier = [] if args.fresh else read_results(scores)
    except ValueError as err:
        parser.exit(2, f"error: {err}\n")
    earlier = [r for r in earlier if r["status"] != "error"]  # the grader's own failures are retried
    results = Results(scores, earlier)
    done = {(r["student"], r["file"]) for r in earlier}
    if done:
        print(f"resuming {scores}: {len(done)} notebook(s) already graded (--fresh to start over)", file=sys.stderr)
    rows = grade_all(args.submissions, args.chapters, args.limit, args.workers, progress=print_progress,
                     use_sandbox=not args.no_sandbox, private=private, done=done, on_rows=results.append,
                     memory_mb=args.memory_mb)
    rows = sort_rows(earlier + rows, args.chapters)
    write_csv(rows, scores)
    print(report(rows))
    print(f"\nscores: {scores} (one row per student, chapter and exercise)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker_main()
    else:
        main()
