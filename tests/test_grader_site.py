"""The coursework's hidden tests are not on the site: not on the pages, in the search index, or the downloads."""

import importlib.util
import json

import nbformat

import coursework as cw

spec = importlib.util.spec_from_file_location("strip_hidden_tests", cw.ROOT / "book" / "_ext" / "strip_hidden_tests.py")
strip = importlib.util.module_from_spec(spec)
spec.loader.exec_module(strip)


def hidden_lines():
    """The lines found only inside hidden-test blocks of the chapters, with the chapter each is from."""
    found, public = [], ""
    for path in cw.chapter_paths():
        nb = cw.read_notebook(path)
        public += "\n".join(c.source for c in cw.student_version(nb, path.stem).cells)
        for cell in nb.cells:
            if cw.is_check(cell):
                for region in cw.marked_regions(cell.source, cw.BEGIN_HIDDEN, cw.END_HIDDEN):
                    found += [(path.stem, line.strip()) for line in region.splitlines() if len(line.strip()) > 20]
    return [(chapter, line) for chapter, line in found if line not in public]


def test_the_transform_removes_hidden_blocks_and_keeps_the_rest():
    source = 'assert f(1) == 1, "visible"\n### BEGIN HIDDEN TESTS\nassert f(2) == 4, "secret"\n### END HIDDEN TESTS\n'
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source), nbformat.v4.new_code_cell("x = 1")])
    out = json.loads(strip.strip_notebook_text(nbformat.writes(nb)))
    assert "".join(out["cells"][0]["source"]) == 'assert f(1) == 1, "visible"\n'
    assert "".join(out["cells"][1]["source"]) == "x = 1"
    nbformat.validate(nbformat.reads(json.dumps(out), as_version=4))
    unclosed = strip.strip_source(["a = 1\n", "### BEGIN HIDDEN TESTS\n", "assert secret\n"])
    assert unclosed == ["a = 1\n"], "an unclosed block is removed to the end of the cell"
    assert strip.strip_notebook_text('{"cells": []}') == '{"cells": []}', "a notebook without hidden tests is untouched"


def test_the_chapters_have_hidden_tests_to_hide():
    assert hidden_lines(), "no hidden tests in the chapters: this test would prove nothing"


def test_the_built_site_shows_no_hidden_test(site_built):
    """Pages, search index and the .ipynb downloads (_sources), as the site serves them."""
    secrets = hidden_lines()
    leaks = []
    for path in site_built.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".js", ".ipynb", ".txt", ".md", ".json"}:
            text = path.read_text(encoding="utf-8", errors="replace")
            if cw.BEGIN_HIDDEN in text:
                leaks.append(f"{path.relative_to(site_built)}: the marker {cw.BEGIN_HIDDEN!r}")
            if path.suffix in {".ipynb", ".txt"} or path.name.endswith(".html"):
                leaks += [f"{path.relative_to(site_built)}: {line!r} ({chapter})" for chapter, line in secrets
                          if line in text or line.replace('"', "&quot;") in text]
    assert leaks == [], leaks[:10]
    download = site_built / "_sources" / "chapters" / f"{cw.chapter_paths()[0].name}"
    assert download.exists(), "the download button's target moved: check what the site serves"
    nbformat.validate(nbformat.reads(download.read_text(encoding="utf-8"), as_version=4))
