"""Write the student version of every chapter, plus a release folder an instructor can hand out.

Usage: python scripts/assignments.py --out release        (make assignments)

For each chapters/NN_name.ipynb, OUT/NN_name.ipynb is the chapter with each solution region replaced by
nbgrader's stub (`# YOUR CODE HERE` / `raise NotImplementedError()`), hidden tests removed, worked prose
answers (<details><summary>Solution</summary>) replaced by a placeholder, all outputs cleared, and
metadata.coursework.chapter naming the chapter. OUT/README.md tells students how to work and submit;
OUT/manifest.json lists the chapters, exercise ids and points. A chapter that breaks the convention in
CONTRIBUTING.md is not released: its problems are printed and the exit status is 1.
"""

import argparse
import json
import sys
from pathlib import Path

import nbformat

import coursework as cw

STUDENT_README = """\
# Coursework: The Feed-Forward Network

Each notebook here is one chapter of the book, with the code exercises left for you.

## How to work

1. Open the chapter's notebook (Jupyter, JupyterLab, VS Code or Colab) and run it from the top.
2. In each exercise's code cell, replace `# YOUR CODE HERE` and `raise NotImplementedError()` with your
   code. Keep the function's name and arguments: the grader calls them.
3. Run the check cell under it. Silence means the visible checks pass; an `AssertionError` says what
   is wrong. The grader also runs hidden checks, so make your code right in general, not just for
   the values shown.
4. Before submitting: Kernel > Restart & Run All, and make sure it finishes within a couple of minutes.

Leave the exercise and check cells in place. The grader runs only your exercise cells, inside the
instructor's own copy of the chapter: cells you add are yours to experiment in, but they are not
run when grading, so put every line an answer needs (helper functions included) in its exercise
cell. A deleted exercise cell scores 0; check cells are the instructor's own when grading, so
editing them changes nothing.

Write plain Python with numpy, torch and the standard library's maths. An answer that imports
modules such as os, sys or inspect, reads files, uses exec or eval, or changes numpy, torch or the
notebook itself is not scored automatically: your instructor reads it first.

## How to submit

Hand in the notebook file itself, in the way your instructor asks, under its original name
(for example `{example}`). Each file says which chapter it is: do not copy your work into another
chapter's notebook.

## Chapters and points

| Notebook | Chapter | Code exercises | Points |
|---|---|---|---|
{rows}
"""


def fmt(points):
    return f"{points:g}"


def release_chapter(path, out):
    """Write one student notebook; return (its manifest entry, problems)."""
    try:
        nb = cw.read_notebook(path)
    except Exception as err:  # invalid JSON or not a notebook: report it, release the others
        return None, [f"cannot read it: {type(err).__name__}: {err}"]
    problems = cw.convention_problems(nb, cw.chapter_number(path.stem))
    if problems:
        return None, problems
    nbformat.write(cw.student_version(nb, path.stem), str(out / path.name))
    exercises = [{"id": ex, "points": points} for ex, points in cw.exercises(nb)]
    entry = {"notebook": path.name, "title": cw.chapter_title(nb), "exercises": exercises,
             "points": sum(e["points"] for e in exercises)}
    return entry, []


def write_readme(manifest, out):
    rows = "\n".join(
        f"| `{c['notebook']}` | {c['title']} | {', '.join(e['id'] for e in c['exercises'])} | {fmt(c['points'])} |"
        for c in manifest.values()
    )
    example = next(iter(manifest.values()))["notebook"] if manifest else "08_position_wise_ffn.ipynb"
    (out / "README.md").write_text(STUDENT_README.format(example=example, rows=rows), encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="release folder to write (e.g. release)")
    parser.add_argument("--chapters", type=Path, default=cw.CHAPTERS,
                        help="folder of instructor notebooks NN_name.ipynb (default: chapters/)")
    args = parser.parse_args(argv)

    chapters = cw.chapter_paths(args.chapters) if args.chapters.is_dir() else []
    if not chapters:
        parser.exit(2, f"error: no chapter notebooks NN_name.ipynb in {args.chapters}\n")
    if args.out.resolve() == args.chapters.resolve():
        parser.exit(2, f"error: --out {args.out} is the chapters folder: choose another (e.g. release)\n")
    args.out.mkdir(parents=True, exist_ok=True)

    manifest, refused = {}, 0
    for path in chapters:
        entry, problems = release_chapter(path, args.out)
        if problems:
            refused += 1
            print(f"error: {path.name} not released, it breaks the convention in CONTRIBUTING.md:", file=sys.stderr)
            print("".join(f"  - {p}\n" for p in problems), end="", file=sys.stderr)
            continue
        manifest[path.stem] = entry
        print(f"{args.out / path.name}: {len(entry['exercises'])} code exercise(s), {fmt(entry['points'])} point(s)")
    (args.out / "manifest.json").write_text(json.dumps({"chapters": manifest}, indent=2) + "\n", encoding="utf-8")
    write_readme(manifest, args.out)
    print(f"release: {len(manifest)} chapter(s) in {args.out}/ (hand out the folder; README.md tells students what to do)")
    if refused:
        sys.exit(f"error: {refused} chapter(s) not released; fix the problems listed above and rerun")


if __name__ == "__main__":
    main()
