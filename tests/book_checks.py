"""Structural checks on the book's chapter notebooks.

Each check takes a notebook (as a dict, the JSON of an .ipynb) and returns a list of problems,
one readable sentence each; an empty list means the check passes. The tests apply every check
to every chapter and to a deliberately broken notebook, so each check is known to bite.
"""

import ast
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
CHAPTER_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")

ALLOWED_THIRD_PARTY = {"numpy", "torch", "matplotlib"}
NETWORK_MODULES = {
    "socket", "ssl", "urllib", "http", "ftplib", "smtplib", "poplib", "imaplib", "telnetlib",
    "xmlrpc", "socketserver", "webbrowser", "asyncio",
}
NETWORK_CALLS = ("torch.hub", "urlopen", "urlretrieve", "download_url", "model_zoo")
REQUIRED_SECTIONS = ("Summary", "Exercises", "Interview questions")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def chapter_paths():
    return sorted(p for p in CHAPTERS.glob("*.ipynb") if CHAPTER_NAME.match(p.name))


def source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def code_cells(nb):
    return [c for c in nb.get("cells", []) if c.get("cell_type") == "code" and source(c).strip()]


def output_text(output):
    text = output.get("text", "")
    plain = output.get("data", {}).get("text/plain", "")
    return "".join(text) + "".join(plain)


def headings(nb, level):
    """Titles of the Markdown headings of one level, in order (e.g. level 2 for '## ...')."""
    prefix = "#" * level + " "
    found = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        in_fence = False
        for line in source(cell).splitlines():
            if line.startswith("```"):
                in_fence = not in_fence
            elif not in_fence and line.startswith(prefix):
                found.append(line[len(prefix):].strip())
    return found


# --- the table of contents ----------------------------------------------------------------

def toc_entries(toc_path):
    """Document names in a _toc.yml, root first (e.g. 'book/intro', 'chapters/08_x'), without suffix."""
    with open(toc_path, encoding="utf-8") as f:
        toc = yaml.safe_load(f)
    entries = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                entries.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [re.sub(r"\.(md|ipynb)$", "", e) for e in entries]


def toc_problems(root=ROOT):
    toc_path = Path(root) / "_toc.yml"
    if not toc_path.is_file():
        return [f"{toc_path} is missing"]
    entries = toc_entries(toc_path)
    problems = []
    for entry in entries:
        candidates = [Path(root) / (entry + ext) for ext in ("", ".md", ".ipynb")]
        if not any(c.is_file() for c in candidates):
            problems.append(f"_toc.yml lists {entry!r}, but no such .md or .ipynb file exists")
    listed = set(entries)
    for nb_path in sorted((Path(root) / "chapters").glob("*.ipynb")):
        stem = nb_path.relative_to(root).with_suffix("").as_posix()
        if stem not in listed:
            problems.append(f"{nb_path.name} is not listed in _toc.yml")
        if not CHAPTER_NAME.match(nb_path.name):
            problems.append(f"{nb_path.name} is not named NN_lowercase_words.ipynb")
    return problems


# --- one notebook -------------------------------------------------------------------------

def metadata_problems(nb):
    meta = nb.get("metadata", {})
    problems = []
    if meta.get("kernelspec", {}).get("name") != "python3":
        problems.append("metadata.kernelspec.name must be 'python3' (the book build and Colab need it)")
    if meta.get("language_info", {}).get("name") != "python":
        problems.append("metadata.language_info.name must be 'python' (the strict build fails without a lexer)")
    return problems


def execution_problems(nb):
    counts = [c.get("execution_count") for c in code_cells(nb)]
    if None in counts:
        return [f"{counts.count(None)} code cell(s) never executed: run scripts/execute_notebooks.py on it"]
    if counts != list(range(1, len(counts) + 1)):
        return [f"code cells not executed once, top to bottom, in one fresh run (counts {counts})"]
    return []


def error_output_problems(nb):
    problems = []
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and "raises-exception" not in tags(cell):
                problems.append(f"cell {i} stores an error ({out.get('ename')}) but is not tagged raises-exception")
    return problems


def unstable_output_problems(nb):
    """Outputs that differ from machine to machine break strict nbval."""
    problems = []
    for i, cell in enumerate(nb.get("cells", [])):
        ignored = "nbval-ignore-output" in tags(cell) or "NBVAL_IGNORE_OUTPUT" in source(cell)
        for out in cell.get("outputs", []):
            text = output_text(out)
            if re.search(r"0x[0-9a-f]{6,}", text) and not ignored:
                problems.append(f"cell {i} output holds a memory address (end plotting cells with plt.show())")
            if out.get("name") == "stderr" and not ignored:
                problems.append(f"cell {i} writes to stderr (a warning?): avoid it or tag the cell nbval-ignore-output")
    return problems


def imported_modules(code):
    """Top-level names of every module a cell imports (IPython magics and shell lines dropped)."""
    lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            names.add("__import__")
    return names


def import_problems(nb):
    allowed = (set(sys.stdlib_module_names) | ALLOWED_THIRD_PARTY) - NETWORK_MODULES
    problems = []
    for i, cell in enumerate(code_cells(nb)):
        code = source(cell)
        if re.search(r"^\s*(!|%pip|%conda)", code, re.M):
            problems.append(f"code cell {i} runs a shell or install command: chapters must run as-is in Colab")
        try:
            modules = imported_modules(code)
        except SyntaxError as err:
            problems.append(f"code cell {i} is not valid Python ({err.msg})")
            continue
        for name in sorted(modules - allowed):
            why = "opens the network" if name in NETWORK_MODULES else "is not numpy, torch, matplotlib or stdlib"
            problems.append(f"code cell {i} imports {name!r}, which {why}")
        for call in NETWORK_CALLS:
            if call in code:
                problems.append(f"code cell {i} uses {call}: chapters generate their data, never download it")
    return problems


def structure_problems(nb, number):
    """`# N. Title` first, learning objectives next, summary, exercises and interview questions last."""
    cells = nb.get("cells", [])
    if not cells or cells[0].get("cell_type") != "markdown":
        return ["the first cell must be Markdown starting with '# N. Title'"]
    problems = []
    first = source(cells[0]).lstrip().splitlines()[0] if source(cells[0]).strip() else ""
    match = re.match(r"^# (\d+)\. \S", first)
    if not match:
        problems.append(f"the first line must be '# {number}. Title', not {first!r}")
    elif int(match.group(1)) != number:
        problems.append(f"the title says chapter {match.group(1)} but the file is number {number}")
    opening = "\n".join(source(c) for c in cells[:2] if c.get("cell_type") == "markdown")
    if not re.search(r"^## Learning objectives\s*$", opening, re.M):
        problems.append("'## Learning objectives' must follow the title (in the first two cells)")
    sections = headings(nb, 2)
    last = [s for s in sections if s in REQUIRED_SECTIONS]
    for required in REQUIRED_SECTIONS:
        if required not in sections:
            problems.append(f"missing the '## {required}' section")
    if not problems and (last != list(REQUIRED_SECTIONS) or sections[-3:] != list(REQUIRED_SECTIONS)):
        problems.append("the last sections must be Summary, Exercises, Interview questions, in that order")
    return problems


def figure_problems(nb):
    """Every figure has alt text (cell metadata mystnb.image.alt) and a prose caption right after it."""
    cells = nb.get("cells", [])
    problems = []
    for i, cell in enumerate(cells):
        has_image = any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
        if not has_image:
            continue
        alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "")
        if not alt.strip():
            problems.append(f"cell {i} draws a figure without alt text (metadata mystnb.image.alt)")
        following = cells[i + 1] if i + 1 < len(cells) else {}
        if following.get("cell_type") != "markdown" or not source(following).lstrip().startswith("**Figure"):
            problems.append(f"cell {i} draws a figure not followed by a Markdown caption '**Figure N.k.** ...'")
    return problems


def chapter_problems(nb, number):
    """Every per-notebook check, for one chapter."""
    return (
        metadata_problems(nb)
        + execution_problems(nb)
        + error_output_problems(nb)
        + unstable_output_problems(nb)
        + import_problems(nb)
        + structure_problems(nb, number)
        + figure_problems(nb)
    )
