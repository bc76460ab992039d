"""What a reader sees: the built site in headless Chromium, served on 127.0.0.1.

Each page is loaded once, with fresh storage as a first-time reader has (the light theme comes
from the browser's colour scheme), scrolled to its end, and everything the tests need is recorded
during that visit: console errors, requests, the math, images, the meta description, launch links
and what the solution toggles do when clicked. Each page is also loaded at a phone's width
(360 px) to check that nothing pushes it sideways. The dark-mode test and the search test load
their own pages.
Without Chromium these tests fail, naming the install command (FFN_SKIP_BROWSER=1 skips them).
"""

import contextlib
import io
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

import site_helpers as sh

PAGES = sh.expected_pages()
CHAPTERS = sh.chapter_pages()
VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
MIN_DESCRIPTION_CHARS = 50
TIMEOUT_MS = 30_000
# A figure is readable in either theme if its background, as the reader sees it, is light.
MIN_FIGURE_LUMINANCE = 0.6
# Search terms; the chapters whose prose uses a term are the ones search must return for it.
SEARCH_TERMS = ("ReLU", "backpropagation", "position-wise")

# Collected in the page, after load and after MathJax has finished.
INSPECT_JS = r"""
() => {
  const article = document.querySelector("article.bd-article") || document.body;
  const math = [...article.querySelectorAll(".math")];
  const clone = article.cloneNode(true);
  clone.querySelectorAll("pre, code, script, style, mjx-container, .highlight, textarea")
       .forEach(e => e.remove());
  const text = clone.textContent;
  const images = [...document.querySelectorAll("img")].map(img => {
    const cell = img.closest(".cell");
    let caption = "";
    const figure = img.closest("figure");
    if (figure && figure.querySelector("figcaption")) caption = figure.querySelector("figcaption").textContent.trim();
    if (!caption && cell) {
      let next = cell.nextElementSibling;
      if (next && /^\s*Figure\s/.test(next.textContent)) caption = next.textContent.trim();
    }
    return {src: img.getAttribute("src"), alt: (img.getAttribute("alt") || "").trim(),
            complete: img.complete, naturalWidth: img.naturalWidth,
            figure: !!img.closest("article") && !!(img.closest(".cell_output") || figure),
            caption: caption.slice(0, 80)};
  });
  return {
    url: location.href,
    theme: document.documentElement.dataset.theme,
    mathCount: math.length,
    // MathJax's lazy typesetting (the fallback without Node.js at build time) leaves
    // <mjx-container><mjx-lazy> placeholders until the math is on screen; math in a closed toggle
    // is typeset when the reader opens it.
    untypeset: math.filter(e => !e.querySelector("mjx-container")
                                || (e.querySelector("mjx-lazy") && !e.closest("details:not([open])")))
                   .map(e => (e.dataset.tex || e.textContent).slice(0, 60)),
    typeset: [...article.querySelectorAll("mjx-container")].filter(c => !c.querySelector("mjx-lazy")).length,
    mathErrors: [...article.querySelectorAll("mjx-merror")].map(e => e.textContent.slice(0, 60)),
    mathjaxLoaded: !!(window.MathJax && window.MathJax.startup),
    rawTex: (text.match(/\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{|\$[^$\n]*[\\^_{}][^$\n]*\$/g) || []).slice(0, 5),
    images: images,
    description: (document.querySelector('meta[name="description"]') || {content: null}).content,
    redirect: !!document.querySelector('meta[http-equiv="Refresh" i]'),
  };
}
"""

WAIT_FOR_MATHJAX_JS = """
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
}
"""

# Scroll to the end one screen at a time, as a reader does: lazily typeset math (MathJax's
# ui/lazy, where the math was not typeset at build time) and lazily loaded images come in.
SCROLL_TO_END_JS = """
async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 20)));
  for (let y = 0; y <= document.documentElement.scrollHeight; y += Math.max(200, innerHeight * 0.9)) {
    scrollTo(0, y);
    await frame();
  }
  scrollTo(0, document.documentElement.scrollHeight);
  await frame();
  await Promise.all([...document.images].filter(i => !i.complete).map(i => new Promise(r => {
    i.addEventListener("load", r); i.addEventListener("error", r); setTimeout(r, 10000); })));
}
"""

WAIT_FOR_TYPESET_JS = """
() => [...document.querySelectorAll("article .math")].every(e => e.querySelector("mjx-container"))
   && !document.querySelector("article mjx-lazy")
"""

# Elements that stick out of a 360 px page and are not inside a box that scrolls or clips them.
TOO_WIDE_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= width + 1) continue;
    let p = el.parentElement, contained = false;
    while (p && p !== document.body) {
      if (getComputedStyle(p).overflowX !== "visible") { contained = true; break; }
      p = p.parentElement;
    }
    if (contained || getComputedStyle(el).position === "fixed") continue;
    const cls = el.className && el.className.baseVal === undefined ? "." + String(el.className).trim().split(/\\s+/).join(".") : "";
    wide.push(`<${el.tagName.toLowerCase()}${cls}> ${Math.round(r.width)} px wide, right edge at ${Math.round(r.right)} px: `
              + (el.textContent || "").trim().slice(0, 50));
    if (wide.length >= 5) break;
  }
  return {width: width, scrollWidth: document.documentElement.scrollWidth, wide: wide};
}
"""


def new_context(browser, theme, fresh_storage=False, viewport=None):
    """A browser context with the site's light or dark theme chosen before any page script runs.

    fresh_storage: nothing in localStorage (a first-time reader): the theme follows the browser's
    colour scheme, which is set to `theme`.
    """
    context = browser.new_context(viewport=viewport or VIEWPORT, color_scheme=theme, service_workers="block")
    if not fresh_storage:
        context.add_init_script(f"try {{ localStorage.setItem('mode', '{theme}'); "
                                f"localStorage.setItem('theme', '{theme}'); }} catch (e) {{}}")
    context.set_default_timeout(TIMEOUT_MS)
    return context


class Recorder:
    """Console errors, uncaught exceptions, failed and outside requests of one page."""

    def __init__(self, page, port):
        self.errors, self.outside, self.failed, self.requested = [], [], [], []
        self.port = port
        page.on("console", self.on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught exception: {exc}"))
        page.on("requestfailed", self.on_failed)
        page.on("response", self.on_response)
        page.route("**/*", self.on_route)

    def on_console(self, msg):
        if msg.type == "error":
            where = msg.location.get("url", "") if msg.location else ""
            self.errors.append(f"console.error: {msg.text} ({where})")

    def on_route(self, route):
        url = route.request.url
        if sh.is_local(url, self.port):
            self.requested.append(url)
            route.continue_()
        else:
            self.outside.append(url)
            route.abort("blockedbyclient")

    def on_failed(self, request):
        if sh.is_local(request.url, self.port):
            self.failed.append(f"{request.url} ({request.failure})")

    def on_response(self, response):
        if response.status >= 400:
            self.failed.append(f"{response.url} (HTTP {response.status})")


def goto(page, server, rel):
    page.goto(server.url(rel), wait_until="load")
    source = server.directory / rel
    html = source.read_text(encoding="utf-8", errors="replace") if source.is_file() else ""
    if re.search(r'http-equiv="refresh"', html, re.I):  # index.html redirects to the root page
        page.wait_for_function("() => !location.pathname.endsWith('/index.html')")
        page.wait_for_load_state("load")
    page.evaluate(WAIT_FOR_MATHJAX_JS)


def scroll_to_end(page):
    """Scroll through the page; then wait (up to 10 s) until all its math is typeset."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate(SCROLL_TO_END_JS)
    with contextlib.suppress(PlaywrightTimeout):  # what is left untypeset, the math test reports
        page.wait_for_function(WAIT_FOR_TYPESET_JS, timeout=10_000)


def check_launch_links(page, rel):
    """Open the launch (rocket) menu; the expected Colab and Binder links must show."""
    problems = []
    expected = sh.launch_urls(rel)
    button = page.locator(".dropdown-launch-buttons button").first
    if button.count() == 0:
        return ["no launch (rocket) button in the header"]
    button.click()
    for name, url in expected.items():
        link = page.locator(f'a[href="{url}"]')
        if link.count() == 0:
            problems.append(f"no {name} link to {url}")
        elif not link.first.is_visible():
            problems.append(f"the {name} link is not shown when the launch menu is opened")
    page.keyboard.press("Escape")
    return problems


TOGGLE_STATES_JS = """
() => [...document.querySelectorAll("article details")].map(d => {
  const content = [...d.children].filter(c => c.tagName !== "SUMMARY");
  const summary = d.querySelector(":scope > summary");
  return {label: (summary ? summary.innerText : "").replace(/\\s+/g, " ").trim().slice(0, 40),
          cls: d.className, open: d.open,
          shown: content.length > 0 && content.some(c => c.checkVisibility())};
})
"""


def check_toggles(page):
    """Every <details> in the article: closed at first, open (content shown) after a real click."""
    before = page.evaluate(TOGGLE_STATES_JS)
    summaries = page.locator("article details > summary")
    after = []
    for i in range(summaries.count()):
        summaries.nth(i).scroll_into_view_if_needed()
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        summaries.nth(i).click(force=True)  # real mouse click; skip the wait-for-stable checks
        # Read it at once, while it is on screen: sections far from the screen are not laid out
        # (content-visibility: auto in course.css), so their content does not count as shown.
        after.append(page.evaluate(TOGGLE_STATES_JS)[i])
    return [{"label": b["label"] or f"toggle {i + 1}", "class": b["cls"],
             "closed_at_first": not b["open"] and not b["shown"],
             "opens_on_click": a["open"] and a["shown"]}
            for i, (b, a) in enumerate(zip(before, after, strict=True))]


class Visits:
    """Loads each page once, lazily, in one context with fresh storage (light colour scheme), and keeps what it saw."""

    def __init__(self, browser, server):
        self.server = server
        self.context = new_context(browser, "light", fresh_storage=True)
        self.seen = {}

    def __call__(self, rel):
        if rel not in self.seen:
            self.seen[rel] = self.visit(rel)
        return self.seen[rel]

    def visit(self, rel):
        page = self.context.new_page()
        recorder = Recorder(page, self.server.port)
        try:
            goto(page, self.server, rel)
            scroll_to_end(page)
            record = page.evaluate(INSPECT_JS)
            page.evaluate("() => scrollTo(0, 0)")
            if rel in CHAPTERS:
                record["launch_problems"] = check_launch_links(page, rel)
                record["toggles"] = check_toggles(page)
        finally:
            page.close()
        record.update(errors=recorder.errors, outside=recorder.outside, failed=recorder.failed,
                      requested=recorder.requested)
        return record

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def visits(chromium_browser, site_server):
    v = Visits(chromium_browser, site_server)
    yield v
    v.close()


@pytest.fixture(scope="module")
def phone(chromium_browser, site_server):
    context = new_context(chromium_browser, "light", fresh_storage=True, viewport=PHONE)
    yield context
    context.close()


# --- every page ---------------------------------------------------------------------------

@pytest.mark.parametrize("rel", PAGES)
def test_page_loads_without_console_errors(visits, rel):
    """With fresh storage, as a first-time reader (the theme's "Got invalid theme mode" shows only then)."""
    seen = visits(rel)
    problems = seen["errors"] + [f"failed request: {f}" for f in seen["failed"]]
    assert problems == [], f"{rel} (fresh storage):\n" + "\n".join(problems)
    if not seen["redirect"]:
        assert seen["theme"] == "light", f"{rel}: with fresh storage and a light colour scheme the theme is {seen['theme']!r}"


@pytest.mark.parametrize("rel", PAGES)
def test_page_has_a_meta_description(visits, rel):
    seen = visits(rel)
    if seen["redirect"]:
        return
    description = (seen["description"] or "").strip()
    assert len(description) >= MIN_DESCRIPTION_CHARS, (
        f"{rel}: meta description {description!r} (search engines and Lighthouse's SEO audit want one; "
        f"book/_ext/fast_site.py takes it from the page's front matter `description` or first paragraph)")
    assert not re.search(r"\\[a-zA-Z]+|\$", description), f"{rel}: raw TeX in the meta description: {description!r}"


@pytest.mark.parametrize("rel", PAGES)
def test_page_fits_a_phone(phone, site_server, rel):
    """At 360 px nothing pushes the page sideways: long code, tables and display math scroll in their own box."""
    page = phone.new_page()
    Recorder(page, site_server.port)
    try:
        goto(page, site_server, rel)
        scroll_to_end(page)
        found = page.evaluate(TOO_WIDE_JS)
    finally:
        page.close()
    assert found["scrollWidth"] <= found["width"] and found["wide"] == [], (
        f"{rel} at {PHONE['width']} px is {found['scrollWidth']} px wide; elements sticking out:\n"
        + "\n".join(found["wide"]))


@pytest.mark.parametrize("rel", PAGES)
def test_page_requests_nothing_outside_127_0_0_1(visits, rel):
    seen = visits(rel)
    assert seen["outside"] == [], f"{rel} asked the network for (the site must work offline):\n" + "\n".join(seen["outside"])


@pytest.mark.parametrize("rel", PAGES)
def test_page_loads_no_icon_font(visits, rel):
    """Icons are inline SVG (book/_ext/fast_site.py) and the GitHub mark a CSS mask (course.css): no page needs
    Font Awesome's fonts (the brands font alone is 118 kB)."""
    fonts = [u for u in visits(rel)["requested"] if "/fontawesome/webfonts/" in u]
    assert fonts == [], f"{rel} downloads Font Awesome fonts: {fonts}"


@pytest.mark.parametrize("rel", PAGES)
def test_math_is_typeset(visits, rel):
    seen = visits(rel)
    assert seen["rawTex"] == [], f"{rel} shows raw TeX in its text: {seen['rawTex']}"
    if seen["mathCount"] == 0:
        return
    # Typeset at build time (book/_ext/fast_site.py, with Node.js) or by MathJax in the browser.
    assert seen["untypeset"] == [], (f"{rel}: math left untypeset after scrolling to the end "
                                     f"(MathJax loaded: {seen['mathjaxLoaded']}): {seen['untypeset']}")
    assert seen["typeset"] >= seen["mathCount"], f"{rel}: {seen['typeset']} rendered of {seen['mathCount']}"
    assert seen["mathErrors"] == [], f"{rel}: MathJax could not typeset: {seen['mathErrors']}"


@pytest.mark.parametrize("rel", PAGES)
def test_images_load_and_figures_are_described(visits, rel):
    seen = visits(rel)
    broken = [i["src"] for i in seen["images"] if not (i["complete"] and i["naturalWidth"] > 0)]
    assert broken == [], f"{rel}: images that did not load: {broken}"
    undescribed = [i["src"] for i in seen["images"] if i["figure"] and not (i["alt"] or i["caption"])]
    assert undescribed == [], f"{rel}: figures with neither alt text nor a caption: {undescribed}"


# --- chapter pages ------------------------------------------------------------------------

@pytest.mark.parametrize("rel", CHAPTERS)
def test_chapter_has_colab_and_binder_links(visits, rel):
    seen = visits(rel)
    assert seen["launch_problems"] == [], f"{rel}: " + "; ".join(seen["launch_problems"])


@pytest.mark.parametrize("rel", CHAPTERS)
def test_solutions_are_closed_and_open_on_click(visits, rel):
    toggles = visits(rel)["toggles"]
    assert toggles, f"{rel} has no collapsed solution or answer (<details>) at all"
    closed = [t["label"] for t in toggles if not t["closed_at_first"]]
    assert closed == [], f"{rel}: toggles open when the page loads: {closed}"
    stuck = [t["label"] for t in toggles if not t["opens_on_click"]]
    assert stuck == [], f"{rel}: toggles that do not open on click: {stuck}"


# --- search -------------------------------------------------------------------------------

def prose(notebook):
    """A notebook's Markdown, with math and code removed (what search indexes as words)."""
    import json

    cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                     for c in cells if c.get("cell_type") == "markdown")
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$|`[^`\n]+`", " ", text, flags=re.S)
    return text


def chapter_sources():
    """{chapter page: its notebook} for the chapters of the toc whose notebook exists."""
    found = {}
    for rel in CHAPTERS:
        notebook = sh.source_root() / (rel.removesuffix(".html") + ".ipynb")
        if notebook.is_file():
            found[rel] = notebook
    return found


def relevant_chapters(term):
    """Chapters whose prose uses the term as a word, and those whose title holds it."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-])", re.I)
    uses, titled = [], []
    for rel, notebook in chapter_sources().items():
        text = prose(notebook)
        if pattern.search(text):
            uses.append(rel)
        title = next((ln for ln in text.splitlines() if ln.startswith("# ")), "")
        if pattern.search(title):
            titled.append(rel)
    return uses, titled


@pytest.fixture(scope="module")
def search_page(chromium_browser, site_server):
    context = new_context(chromium_browser, "light")
    page = context.new_page()
    Recorder(page, site_server.port)  # blocks requests outside 127.0.0.1; console errors: tested per page
    yield page
    context.close()


@pytest.mark.parametrize("term", SEARCH_TERMS)
def test_search_returns_the_relevant_chapters(search_page, site_server, term):
    page = search_page
    page.goto(site_server.url("search.html?q=" + term), wait_until="load")
    page.wait_for_function(
        "() => { const s = document.querySelector('#search-results .search-summary');"
        " return s && /found|did not match/i.test(s.textContent); }")
    hits = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
    found = {re.sub(r"^https?://[^/]+/", "", h).split("#")[0].split("?")[0] for h in hits}
    expected, titled = relevant_chapters(term)
    if not expected:
        if len(chapter_sources()) < len(CHAPTERS):
            pytest.skip(f"no chapter written so far uses {term!r} in its prose")
        pytest.fail(f"no chapter uses {term!r} in its prose: choose search terms the book uses")
    missing = [c for c in expected if c not in found]
    assert missing == [], f"searching {term!r} misses chapters that use it: {missing} (found {sorted(found)})"
    top = [re.sub(r"^https?://[^/]+/", "", h).split("#")[0] for h in hits[:3]]
    buried = [c for c in titled if c not in top]
    assert buried == [], f"searching {term!r}: chapters titled with it are not in the first 3 results: {buried} (top {top})"


# --- light and dark themes ----------------------------------------------------------------

def luminance(rgb):
    r, g, b = (c / 255 for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def figure_heavy_chapter(site):
    """The chapter page with the most figures (images in cell outputs), or None."""
    counts = {rel: len(re.findall(r'class="cell_output[^>]*>\s*<img', (Path(site) / rel).read_text(encoding="utf-8")))
              for rel in CHAPTERS if (Path(site) / rel).is_file()}
    best = max(counts, key=counts.get, default=None)
    return best if best and counts[best] else None


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_figures_are_readable_in_both_themes(chromium_browser, site_server, site_built, tmp_path_factory, theme):
    from PIL import Image

    rel = figure_heavy_chapter(site_built)
    if rel is None:
        pytest.skip("no chapter page with a figure yet")
    context = new_context(chromium_browser, theme)
    page = context.new_page()
    Recorder(page, site_server.port)  # offline, as everywhere
    try:
        goto(page, site_server, rel)
        assert page.evaluate("document.documentElement.dataset.theme") == theme, f"the {theme} theme did not apply"
        figures = page.locator("article .cell_output img")
        figures.first.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.wait_for_timeout(200)
        out = tmp_path_factory.getbasetemp() / "screenshots"
        out.mkdir(exist_ok=True)
        shot = out / f"{Path(rel).stem}-{theme}.png"
        page.screenshot(path=str(shot))
        keep = os.environ.get("FFN_SCREENSHOT_DIR")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shot = Path(shutil.copy(shot, Path(keep) / shot.name))
        sh.SCREENSHOTS.append(str(shot))

        background = Image.open(io.BytesIO(page.screenshot(clip={"x": 0, "y": 0, "width": 8, "height": 8})))
        page_lum = luminance(background.convert("RGB").getpixel((4, 4)))
        if theme == "dark":
            assert page_lum < 0.3, f"the dark theme's page background is not dark (luminance {page_lum:.2f})"
        else:
            assert page_lum > 0.7, f"the light theme's page background is not light (luminance {page_lum:.2f})"

        unreadable = []
        for i in range(figures.count()):
            figure = figures.nth(i)
            figure.scroll_into_view_if_needed()
            # The figure's own corners (inside any padding the theme adds): its background as shown.
            inset = round(figure.evaluate(
                "e => { const s = getComputedStyle(e); return Math.max(parseFloat(s.paddingLeft) +"
                " parseFloat(s.borderLeftWidth), parseFloat(s.paddingTop) + parseFloat(s.borderTopWidth)); }")) + 3
            img = Image.open(io.BytesIO(figure.screenshot())).convert("RGB")
            w, h = img.size
            corners = [img.getpixel((x, y)) for x in (inset, w - 1 - inset) for y in (inset, h - 1 - inset)]
            darkest = min(luminance(c) for c in corners)
            if darkest < MIN_FIGURE_LUMINANCE:
                unreadable.append(f"{figure.get_attribute('src')} (corner luminance {darkest:.2f})")
        assert unreadable == [], (f"{rel} in the {theme} theme: figures drawn on a dark or transparent "
                                  f"background (axes and labels vanish): {unreadable}")
    finally:
        context.close()


# --- the pruned stylesheet ----------------------------------------------------------------

# Every element's computed style (every standard property, and its ::before and ::after where they are
# generated), hashed; with `detail`, the properties themselves of the elements at those positions. Custom
# properties (--pst-*) are left out: what they change shows in the standard properties that use them.
COMPUTED_STYLES_JS = """
(detail) => {
  // Sections off screen are skipped (content-visibility: auto, course.css), and reading their styles would
  // force a layout per element: lay everything out once instead.
  const all = document.createElement("style");
  all.textContent = "* { content-visibility: visible !important; }";
  document.head.append(all);
  const names = [...getComputedStyle(document.documentElement)].filter(p => !p.startsWith("--")).sort();
  const hash = (s) => { let h = 2166136261; for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); } return h >>> 0; };
  const values = (s) => names.map(p => s.getPropertyValue(p));
  const pseudos = [null, "::before", "::after"];
  const style = (el, pseudo) => { const s = getComputedStyle(el, pseudo);
    return pseudo && (s.content === "none" || s.content === "normal") ? null : s; };
  const els = [...document.querySelectorAll("*")];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  if (detail) return detail.map(i => { const s = style(els[Math.floor(i / 3)], pseudos[i % 3]);
    return {where: name(els[Math.floor(i / 3)]) + (pseudos[i % 3] || ""),
            props: s ? Object.fromEntries(names.map(p => [p, s.getPropertyValue(p)])) : {}}; });
  const out = [];
  for (const el of els) for (const p of pseudos) { const s = style(el, p); out.push(s ? hash(values(s).join(";")) : 0); }
  return out;
}
"""
# The pages whose every element is compared: the landing page, the chapter with the most kinds of content
# (tables, math, code, outputs, admonitions, toggles), the references, a Chinese page and the search page;
# "open": with the launch menu opened and a button's tooltip shown (classes that scripts add at run time).
PRUNE_PAGES = [("book/intro.html", "light", VIEWPORT, False),
               ("chapters/08_position_wise_ffn.html", "light", VIEWPORT, False),
               ("chapters/08_position_wise_ffn.html", "light", VIEWPORT, True),
               ("chapters/08_position_wise_ffn.html", "dark", PHONE, False),
               ("book/references.html", "dark", VIEWPORT, False),
               ("book/zh/interview_ffn.html", "light", PHONE, False),
               ("search.html", "light", VIEWPORT, False)]
NO_TRANSITIONS = "* { transition: none !important; animation: none !important; }"


def full_stylesheet(site, rel):
    """The page's bundle name, and its stylesheets concatenated as fast_site bundles them, before pruning."""
    sys.path.insert(0, str(sh.ROOT / "book" / "_ext"))
    import fast_site

    listed = re.search(r'<link rel="stylesheet" href="[^"]*(bundle-[0-9a-f]+\.css)" data-bundle="([^"]*)"',
                       (Path(site) / rel).read_text(encoding="utf-8"))
    assert listed, f"{rel}: no stylesheet bundle (book/_ext/fast_site.py writes one into every page)"
    return listed.group(1), fast_site.full_bundle(Path(site) / "_static", listed.group(2).split())


def computed_styles(browser, server, rel, theme, viewport, opened, stylesheet=None, detail=None):
    """COMPUTED_STYLES_JS on the page as built, or with its bundle replaced by `stylesheet` (name, text)."""
    context = new_context(browser, theme, viewport=viewport)
    page = context.new_page()
    Recorder(page, server.port)
    if stylesheet:
        page.route(f"**/{stylesheet[0]}", lambda route: route.fulfill(body=stylesheet[1], content_type="text/css"))
    try:
        goto(page, server, rel)
        if opened:  # no transitions, so that both are read at the end state
            page.add_style_tag(content=NO_TRANSITIONS)
            page.locator(".dropdown-launch-buttons button").first.click()
            page.locator('[data-bs-toggle="tooltip"]:visible').first.hover()
            page.wait_for_selector(".tooltip.show")
        return page.evaluate(COMPUTED_STYLES_JS, detail)
    finally:
        context.close()


@pytest.mark.parametrize("rel,theme,viewport,opened", PRUNE_PAGES,
                         ids=[f"{r}-{t}-{v['width']}" + ("-open" if o else "") for r, t, v, o in PRUNE_PAGES])
def test_pruned_stylesheet_draws_like_the_full_one(chromium_browser, site_server, site_built, rel, theme, viewport,
                                                   opened):
    """css_prune.py drops the rules no page can match: every element must come out exactly as with all of them."""
    full = full_stylesheet(site_built, rel)
    args = (chromium_browser, site_server, rel, theme, viewport, opened)
    pruned, unpruned = computed_styles(*args), computed_styles(*args, full)
    assert len(pruned) == len(unpruned), f"{rel}: the page has a different number of elements with the full stylesheet"
    differ = [i for i, (a, b) in enumerate(zip(pruned, unpruned, strict=True)) if a != b][:5]
    if differ:
        report = [f"{b['where']}: " + ", ".join(f"{k}: {a['props'].get(k)!r} instead of {b['props'].get(k)!r}"
                                               for k in sorted(a["props"].keys() | b["props"].keys())
                                               if a["props"].get(k) != b["props"].get(k))
                  for a, b in zip(computed_styles(*args, detail=differ), computed_styles(*args, full, differ),
                                  strict=True)]
        pytest.fail(f"{rel} ({theme}, {viewport['width']} px): the pruned stylesheet draws these differently "
                    "from the full one (book/_ext/css_prune.py dropped a rule they need):\n" + "\n".join(report))


SCROLLABLE_BOXES = '["pre", ".nboutput > .output_area", ".cell_output > .output", ".jp-RenderedHTMLCommon", ".pst-scrollable-table-container"].join(", ")'
TAB_STOPS_JS = f"""
() => [...document.querySelectorAll({SCROLLABLE_BOXES})].map(e => ({{
  scrolls: e.scrollWidth > e.clientWidth || e.scrollHeight > e.clientHeight, tab: e.getAttribute("tabindex")}}))
"""


def test_boxes_that_scroll_get_a_tab_stop(chromium_browser, site_server):
    """The theme makes every code box or output that scrolls keyboard-focusable (and no other); fast_site
    has it done in slices after load (no long task), so all of them must get there."""
    rel = "chapters/08_position_wise_ffn.html"
    context = new_context(chromium_browser, "light", viewport=PHONE)
    page = context.new_page()
    Recorder(page, site_server.port)
    try:
        goto(page, site_server, rel)
        page.wait_for_function(f"() => [...document.querySelectorAll({SCROLLABLE_BOXES})].every(e => e.hasAttribute('tabindex'))")
        boxes = page.evaluate(TAB_STOPS_JS)
    finally:
        context.close()
    wrong = [b for b in boxes if b["tab"] != ("0" if b["scrolls"] else "-1")]
    assert sum(b["scrolls"] for b in boxes) > 0, f"{rel} at {PHONE['width']} px: no box scrolls, so nothing is checked"
    assert wrong == [], f"{rel}: {len(wrong)} of {len(boxes)} boxes have the wrong tab stop: {wrong[:5]}"


def test_the_bibliography_shows_no_raw_latex(site_built):
    """pybtex turns only some LaTeX into text: a \\texttt{...} in references.bib showed up as '\\texttt model.py'."""
    html = (Path(site_built) / "book" / "references.html").read_text(encoding="utf-8")
    entries = re.findall(r'<div class="citation"[^>]*>(.*?)</div>', html, re.S)
    assert entries, "book/references.html lists no bibliography entries"
    raw = [m for e in entries for m in re.findall(r"[^>]{0,30}\\[A-Za-z]+[^<]{0,30}", re.sub(r"<[^>]+>", "", e))]
    assert raw == [], f"LaTeX commands left in the references (write them as plain text in book/references.bib): {raw}"
