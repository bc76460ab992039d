"""The interview sheets quote only numbers the course computes, and the Chinese pages stay in sync."""

import pytest

import interview_checks as ic

ENGLISH = list(ic.SHEETS)
PAIRS = list(ic.SHEETS.items())


@pytest.mark.parametrize("page", ENGLISH)
def test_sheet_exists_with_questions(page):
    assert (ic.ROOT / page).is_file(), f"{page} is missing"
    assert ic.questions(ic.read(ic.ROOT / page)), f"{page} has no **Qk. ...** questions"


@pytest.mark.parametrize("page", ENGLISH + [zh for _, zh in PAIRS])
def test_question_ids_count_up(page):
    ids = list(ic.questions(ic.read(ic.ROOT / page)))
    assert ids == list(range(ids[0], ids[0] + len(ids))), f"{page}: ids {ids} skip or repeat"


def test_the_ffn_sheet_has_at_least_60_questions():
    assert len(ic.questions(ic.read(ic.ROOT / "book/interview_ffn.md"))) >= 60


@pytest.mark.parametrize("page", ENGLISH)
def test_answers_quote_only_computed_numbers(page):
    assert ic.number_problems(page) == []


@pytest.mark.parametrize(("english", "chinese"), PAIRS)
def test_chinese_translation_in_sync(english, chinese):
    assert ic.sync_problems(english, chinese) == []


@pytest.mark.parametrize(("english", "chinese"), PAIRS)
def test_each_page_links_to_its_translation(english, chinese):
    en, zh = ic.read(ic.ROOT / english), ic.read(ic.ROOT / chinese)
    assert "zh/" + english.split("/")[-1] in en, f"{english} does not link to its Chinese translation"
    assert "../" + english.split("/")[-1] in zh, f"{chinese} does not link back to {english}"


# --- fixtures: each check bites ------------------------------------------------------------

NOTEBOOK = """{"cells": [{"cell_type": "code", "source": "print(2 * 512 * 2048 + 2048 + 512)",
  "outputs": [{"output_type": "stream", "text": "2,099,712 parameters, 66.6% of the layer"}]}],
  "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"""

ENGLISH_PAGE = """# Sheet

## Parameters

**Q1. How many parameters has the base FFN?**

<details><summary>Answer</summary>

2,099,712, which is 66.6% of an encoder layer (chapter 8).

→ [Chapter 8, Counting](../chapters/08_x.ipynb#counting)

</details>

**Q2. Another?**

<details><summary>Answer</summary>

It is $2\\,099\\,712$ again.

→ [Chapter 8, Counting](../chapters/08_x.ipynb#counting)

</details>
"""

CHINESE_PAGE = """# 面试题

**Q1. 基础模型的 FFN 有多少参数？**

<details><summary>答案</summary>

2,099,712 个，占编码器层的 66.6%（第 8 章）。

→ [第 8 章，参数计数](../../chapters/08_x.ipynb#counting)

</details>

**Q2. 另一个？**

<details><summary>答案</summary>

仍是 $2\\,099\\,712$。

→ [第 8 章，参数计数](../../chapters/08_x.ipynb#counting)

</details>
"""


@pytest.fixture
def sheet(tmp_path, monkeypatch):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "book" / "zh").mkdir(parents=True)
    (tmp_path / "chapters" / "08_x.ipynb").write_text(NOTEBOOK, encoding="utf-8")
    monkeypatch.setattr(ic, "ROOT", tmp_path)

    def write(english=ENGLISH_PAGE, chinese=CHINESE_PAGE):
        (tmp_path / "book" / "s.md").write_text(english, encoding="utf-8")
        (tmp_path / "book" / "zh" / "s.md").write_text(chinese, encoding="utf-8")
        return tmp_path
    return write


def test_fixture_passes_both_checks(sheet):
    root = sheet()
    assert ic.number_problems("book/s.md", root) == []
    assert ic.sync_problems("book/s.md", "book/zh/s.md", root) == []


def test_number_check_bites_on_a_number_no_cell_prints(sheet):
    root = sheet(english=ENGLISH_PAGE.replace("66.6%", "67%"))
    problems = ic.number_problems("book/s.md", root)
    assert len(problems) == 1 and "Q1" in problems[0] and "67" in problems[0], problems


def test_number_check_bites_on_an_answer_without_a_link(sheet):
    root = sheet(english=ENGLISH_PAGE.replace("→ [Chapter 8, Counting](../chapters/08_x.ipynb#counting)\n\n</details>\n\n**Q2", "</details>\n\n**Q2"))
    problems = ic.number_problems("book/s.md", root)
    assert any("Q1" in p and "links to no chapter" in p for p in problems), problems


def test_number_check_bites_on_a_missing_notebook(sheet):
    root = sheet(english=ENGLISH_PAGE.replace("08_x.ipynb#counting)\n\n</details>\n\n**Q2", "08_y.ipynb#counting)\n\n</details>\n\n**Q2"))
    assert any("does not exist" in p for p in ic.number_problems("book/s.md", root))


def test_sync_check_bites_on_reordered_questions(sheet):
    q1, q2 = CHINESE_PAGE.split("**Q2.")
    swapped = "**Q2." + q2.replace("\n</details>\n", "\n</details>\n\n", 1) + "\n" + q1
    root = sheet(chinese=swapped)
    assert any("question ids" in p for p in ic.sync_problems("book/s.md", "book/zh/s.md", root))


def test_sync_check_bites_on_a_changed_number(sheet):
    root = sheet(chinese=CHINESE_PAGE.replace("66.6%", "66.7%"))
    problems = ic.sync_problems("book/s.md", "book/zh/s.md", root)
    assert len(problems) == 1 and "66.7" in problems[0] and "66.6" in problems[0], problems


def test_sync_check_bites_on_a_changed_link(sheet):
    root = sheet(chinese=CHINESE_PAGE.replace("#counting)\n\n</details>\n\n**Q2", "#other)\n\n</details>\n\n**Q2"))
    problems = ic.sync_problems("book/s.md", "book/zh/s.md", root)
    assert len(problems) == 1 and "links" in problems[0], problems


def test_quoted_numbers_ignore_references_and_normalise():
    body = "See chapter 10, Figure 9.5 and Q12 (Shazeer, 2020): 1,050,624 or 1_050_624, 0.50 and 1e-12."
    assert ic.quoted_numbers(body) == ["1050624", "1050624", "0.5", "1e-12"]


# --- the built site: Chinese terms are searchable on the Chinese pages -----------------------

@pytest.mark.parametrize("term", ["前馈神经网络", "混合专家"])
def test_site_search_finds_chinese_terms(chromium_browser, site_server, term):
    assert term in ic.read(ic.ROOT / "book/zh/interview_ffn.md"), f"the Chinese FFN page never uses {term}"
    page = chromium_browser.new_page()
    try:
        page.goto(site_server.url("search.html?q=" + term), wait_until="load")
        page.wait_for_function(
            "() => { const s = document.querySelector('#search-results .search-summary');"
            " return s && /found|did not match/i.test(s.textContent); }")
        hits = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
    finally:
        page.close()
    assert any("/book/zh/" in h for h in hits), f"searching {term!r} finds no Chinese page (hits: {hits})"
