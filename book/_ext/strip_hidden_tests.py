"""Keep the hidden tests of the coursework off the site: the pages, the search index and the downloads.

A check cell's `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` block (CONTRIBUTING.md) is for the
grader only. This extension removes every such block, markers included, from each notebook as Sphinx
reads it (so no page or search entry shows it), and from the copies of the sources the site offers for
download (`_build/html/_sources/**`, the target of the page's download button) once the build is done.
An unclosed block is removed to the end of its cell.
"""

import json
from pathlib import Path

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def strip_source(source):
    """The cell source without its hidden-test blocks (a string or nbformat's list of lines)."""
    text = "".join(source) if isinstance(source, list) else source
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        if BEGIN in line:
            inside = True
        elif END in line and inside:
            inside = False
        elif not inside:
            kept.append(line)
    stripped = "".join(kept).rstrip("\n") + ("\n" if text.endswith("\n") and kept else "")
    if isinstance(source, list):
        return stripped.splitlines(keepends=True)
    return stripped


def strip_notebook_text(text):
    """A notebook's JSON text with the hidden tests removed (unchanged text if it has none)."""
    if BEGIN not in text:
        return text
    nb = json.loads(text)
    for cell in nb.get("cells", []):
        if BEGIN in "".join(cell.get("source", "")):
            cell["source"] = strip_source(cell["source"])
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _on_source_read(app, docname, source):
    if BEGIN in source[0] and app.env.doc2path(docname).endswith(".ipynb"):
        source[0] = strip_notebook_text(source[0])


def _on_build_finished(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for path in Path(app.outdir, "_sources").rglob("*"):
        if path.is_file() and path.name.endswith((".ipynb", ".ipynb.txt")):
            text = path.read_text(encoding="utf-8")
            if BEGIN in text:
                path.write_text(strip_notebook_text(text), encoding="utf-8")


def setup(app):
    app.connect("source-read", _on_source_read)
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
