"""The stylesheet pruner (book/_ext/css_prune.py): it drops only rules that nothing on the site can match.

The browser test `test_pruned_stylesheet_draws_like_the_full_one` (tests/test_site.py) checks the built
pages against the full stylesheet; these check the rules one by one.
"""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("css_prune", ROOT / "book" / "_ext" / "css_prune.py")
css_prune = importlib.util.module_from_spec(spec)
spec.loader.exec_module(css_prune)

PAGE = ('<html><body><div class="used other" id="main"><p class="sm:flex">x</p>'
        '<mjx-container class="MathJax"></mjx-container></div></body></html>')
SCRIPT = 'el.classList.add("shown-by-script"); document.createElement("dialog");'


def names(page=PAGE, script=SCRIPT):
    n = css_prune.Names()
    n.add_page(page)
    n.add_script(script)
    return n


def kept(css):
    return css_prune.prune(css, names()).strip()


@pytest.mark.parametrize("selector", [
    ".used", "div.used", "#main", "p", "div > p.sm\\:flex", ".used:hover", ".used::before", "*", ":root",
    "html[data-theme=dark] .used", 'p[title$=".pdf"]', ".used:not(.missing)", ":is(.missing, .used)",
    ".shown-by-script", "dialog", "mjx-container", "MJX-CONTAINER", ".used .other", ".used~p", "p+p",
])
def test_a_selector_the_site_may_match_is_kept(selector):
    css = f"{selector}{{color:red}}"
    assert kept(css) == css


@pytest.mark.parametrize("selector", [
    ".missing", "div.missing", "#nowhere", "table", ".used .missing", ".missing:hover", ".missing::after",
    "html[data-theme=dark] .missing", ".sm\\:grid",
])
def test_a_selector_that_needs_something_the_site_lacks_is_dropped(selector):
    assert kept(f"{selector}{{color:red}}") == ""


def test_a_selector_list_keeps_only_its_matching_selectors():
    assert kept(".missing, .used ,#nowhere,p{margin:0}") == ".used,p{margin:0}"


def test_media_and_supports_are_pruned_inside_and_dropped_when_empty():
    css = "@media (min-width:960px){.used{a:b}.missing{a:b}}@supports (display:grid){.missing{a:b}}"
    assert kept(css) == "@media (min-width:960px){.used{a:b}}"


def test_nested_grouping_rules():
    css = "@layer base{@media print{.missing{a:b}}@media screen{.used{a:b}}}"
    assert kept(css) == "@layer base{@media screen{.used{a:b}}}"


def test_other_at_rules_are_kept_as_they_are():
    css = ('@charset "UTF-8";\n@import url("x.css");\n@layer a, b;\n'
           "@font-face{font-family:X;src:url(x.woff)}\n@keyframes spin{from{a:b}to{a:c}}")
    assert kept(css).split("\n") == ['@charset "UTF-8";', '@import url("x.css");', "@layer a, b;",
                                     "@font-face{font-family:X;src:url(x.woff)}", "@keyframes spin{from{a:b}to{a:c}}"]


def test_braces_and_commas_in_strings_and_comments_do_not_confuse_it():
    css = '/* .used { } */ .used::before{content:"}, .missing {"} .missing{content:"{"} p{color:red}'
    assert kept(css) == '.used::before{content:"}, .missing {"}\np{color:red}'


def test_a_kept_rule_is_unchanged_inside():
    css = ".used{color:red;background:url(\"a;b.png\");--x:{a:b}}"
    assert kept(css) == css


def test_a_selector_it_cannot_read_is_kept():
    css = "& .child{a:b}"
    assert kept(css) == css


def test_classes_ids_and_tags_are_read_from_every_page():
    n = names(page='<section class="a  b" id="c"></section><SPAN class="d">', script="")
    assert (n.classes, n.ids, n.tags) == ({"a", "b", "d"}, {"c"}, {"section", "span"})


def test_a_script_word_ending_in_a_hyphen_is_a_prefix():
    """Bootstrap builds its tooltip's class as `bs-${NAME}-auto`: the arrow's rules must stay."""
    n = names(script="t.classList.add(`bs-${this.constructor.NAME}-auto`); x = '-' + y; '<div class=\"tooltip-arrow\">'")
    css = ".bs-tooltip-auto .tooltip-arrow::before{a:b}\n.other-auto{a:b}"
    assert css_prune.prune(css, n).strip() == ".bs-tooltip-auto .tooltip-arrow::before{a:b}"


def test_names_in_any_quoting_and_in_inline_scripts():
    n = names(page="<div class='single' id=bare><p class=unquoted></p><script>el.id = 'made-inline';</script>",
              script="")
    assert {"single", "unquoted"} <= n.classes and "bare" in n.ids
    assert css_prune.prune(".single,.unquoted,#bare,#made-inline,.nope{a:b}", n).strip() == \
        ".single,.unquoted,#bare,#made-inline{a:b}"


@pytest.mark.parametrize("css,expected", [
    ('.nope{content:"abc\n}\n.used{a:b}', ".used{a:b}"),       # a string ends at a newline, as in CSS
    (".a\\{b{a:b}.used{c:d}", ".used{c:d}"),                   # an escaped brace is not a brace
    (".nope{background:url(x{)}.used{a:b}", ".used{a:b}"),     # nor is one inside an unquoted url()
    (".nope }\n.used{a:b}", ".nope }\n.used{a:b}"),            # CSS reads one (invalid) rule: left as it is
    (".\\31 a{a:b}", ".\\31 a{a:b}"),                           # class "1a", which the page has
    ("@namespace s url(http://www.w3.org/2000/svg);\ns|rect{a:b}",
     "@namespace s url(http://www.w3.org/2000/svg);\ns|rect{a:b}"),
])
def test_it_splits_and_reads_as_css_does(css, expected):
    assert css_prune.prune(css, names(page=PAGE.replace("sm:flex", "sm:flex 1a"))).strip() == expected


def test_an_empty_layer_stays_where_it_is():
    """Dropping it would move the layer's first mention, and with it the layers' order."""
    css = "@layer base{.missing{a:b}}\n@layer comp{.used{a:b}}\n@layer base{.used{c:d}}"
    assert kept(css) == "@layer base{}\n@layer comp{.used{a:b}}\n@layer base{.used{c:d}}"
