"""The book's chapters are well formed; each check is also shown to fail on a broken notebook."""

import copy

import pytest

import book_checks as bc

CHAPTERS = bc.chapter_paths()


def test_there_are_chapters():
    assert CHAPTERS, "no chapters/NN_name.ipynb found"


def test_toc_and_chapters_agree():
    assert bc.toc_problems() == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_is_well_formed(path):
    number = int(path.name[:2])
    assert bc.chapter_problems(bc.load(path), number) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_numbers_are_unique(path):
    same = [p.name for p in CHAPTERS if p.name[:2] == path.name[:2]]
    assert same == [path.name], f"two chapters share number {path.name[:2]}: {same}"


# --- the fixtures: a minimal good chapter, then one deliberate break per check -------------

def md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text, count, outputs=(), **metadata):
    return {"cell_type": "code", "metadata": dict(metadata), "source": text,
            "execution_count": count, "outputs": list(outputs)}


def figure_output():
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure size 640x480 with 1 Axes>"}}


@pytest.fixture
def good():
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "language_info": {"name": "python"}},
        "cells": [
            md("# 3. A chapter\n\n## Learning objectives\n\n- learn"),
            code("import numpy as np\nimport torch\nimport matplotlib.pyplot as plt\nimport math", 1),
            code("plt.plot([0, 1])\nplt.show()", 2, [figure_output()], mystnb={"image": {"alt": "a line"}}),
            md("**Figure 3.1.** A line."),
            md("## Summary\n\ntext"),
            md("## Exercises\n\ntext"),
            md("## Interview questions\n\ntext"),
        ],
    }


def test_the_good_fixture_passes(good):
    assert bc.chapter_problems(good, 3) == []


def broken_cases():
    """(name, mutation, the check that must complain)."""
    def no_kernelspec(nb):
        del nb["metadata"]["kernelspec"]

    def no_language_info(nb):
        nb["metadata"]["language_info"] = {}

    def never_executed(nb):
        nb["cells"][2]["execution_count"] = None

    def out_of_order(nb):
        nb["cells"][1]["execution_count"], nb["cells"][2]["execution_count"] = 2, 1

    def run_twice(nb):
        nb["cells"][2]["execution_count"] = 5

    def stored_error(nb):
        nb["cells"][1]["outputs"] = [{"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []}]

    def memory_address(nb):
        nb["cells"][1]["outputs"] = [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                      "data": {"text/plain": "[<matplotlib.lines.Line2D at 0x7f3a2b1c9d90>]"}}]

    def stderr_warning(nb):
        nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stderr", "text": "UserWarning: ..."}]

    def imports_pandas(nb):
        nb["cells"][1]["source"] += "\nimport pandas as pd"

    def imports_from_sklearn(nb):
        nb["cells"][1]["source"] += "\nfrom sklearn.datasets import make_moons"

    def opens_socket(nb):
        nb["cells"][1]["source"] += "\nimport socket"

    def downloads(nb):
        nb["cells"][1]["source"] += "\nfrom urllib.request import urlopen"

    def torch_hub(nb):
        nb["cells"][1]["source"] += "\nmodel = torch.hub.load('x', 'y')"

    def pip_install(nb):
        nb["cells"][1]["source"] = "!pip install einops\n" + nb["cells"][1]["source"]

    def no_title(nb):
        nb["cells"][0]["source"] = "Some text\n\n## Learning objectives\n"

    def wrong_number(nb):
        nb["cells"][0]["source"] = "# 4. A chapter\n\n## Learning objectives\n"

    def no_objectives(nb):
        nb["cells"][0]["source"] = "# 3. A chapter\n\nIntro."

    def no_summary(nb):
        del nb["cells"][4]

    def no_exercises(nb):
        del nb["cells"][5]

    def no_interview(nb):
        del nb["cells"][6]

    def sections_reordered(nb):
        nb["cells"][5], nb["cells"][6] = nb["cells"][6], nb["cells"][5]

    def figure_without_alt(nb):
        nb["cells"][2]["metadata"] = {}

    def figure_without_caption(nb):
        nb["cells"][3]["source"] = "The line above."

    return [
        ("no_kernelspec", no_kernelspec, bc.metadata_problems),
        ("no_language_info", no_language_info, bc.metadata_problems),
        ("never_executed", never_executed, bc.execution_problems),
        ("out_of_order", out_of_order, bc.execution_problems),
        ("run_twice", run_twice, bc.execution_problems),
        ("stored_error", stored_error, bc.error_output_problems),
        ("memory_address", memory_address, bc.unstable_output_problems),
        ("stderr_warning", stderr_warning, bc.unstable_output_problems),
        ("imports_pandas", imports_pandas, bc.import_problems),
        ("imports_from_sklearn", imports_from_sklearn, bc.import_problems),
        ("opens_socket", opens_socket, bc.import_problems),
        ("downloads", downloads, bc.import_problems),
        ("torch_hub", torch_hub, bc.import_problems),
        ("pip_install", pip_install, bc.import_problems),
        ("no_title", no_title, lambda nb: bc.structure_problems(nb, 3)),
        ("wrong_number", wrong_number, lambda nb: bc.structure_problems(nb, 3)),
        ("no_objectives", no_objectives, lambda nb: bc.structure_problems(nb, 3)),
        ("no_summary", no_summary, lambda nb: bc.structure_problems(nb, 3)),
        ("no_exercises", no_exercises, lambda nb: bc.structure_problems(nb, 3)),
        ("no_interview", no_interview, lambda nb: bc.structure_problems(nb, 3)),
        ("sections_reordered", sections_reordered, lambda nb: bc.structure_problems(nb, 3)),
        ("figure_without_alt", figure_without_alt, bc.figure_problems),
        ("figure_without_caption", figure_without_caption, bc.figure_problems),
    ]


@pytest.mark.parametrize("name, mutate, check", broken_cases(), ids=[c[0] for c in broken_cases()])
def test_each_check_fails_on_a_broken_notebook(good, name, mutate, check):
    broken = copy.deepcopy(good)
    mutate(broken)
    assert check(broken), f"{name}: the check did not notice"
    assert bc.chapter_problems(broken, 3), f"{name}: chapter_problems did not notice"


def test_stored_error_is_allowed_when_tagged(good):
    good["cells"][1]["outputs"] = [{"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []}]
    good["cells"][1]["metadata"]["tags"] = ["raises-exception"]
    assert bc.error_output_problems(good) == []


def test_toc_check_fails_on_a_missing_and_an_unlisted_chapter(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    (tmp_path / "chapters" / "01_listed.ipynb").write_text("{}")
    (tmp_path / "chapters" / "02_unlisted.ipynb").write_text("{}")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n- file: chapters/01_listed\n- file: chapters/03_missing\n"
    )
    problems = bc.toc_problems(tmp_path)
    assert any("03_missing" in p for p in problems)
    assert any("02_unlisted" in p for p in problems)
    assert not any("01_listed" in p for p in problems)
