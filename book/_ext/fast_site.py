"""A site that is fast on a phone and clean in Lighthouse's audits (issue 17).

Measured with `make bench-site` (scripts/bench_site.py); benchmarks/README.md has the before/after table.
What this extension does, each measured to matter:

- Math: typeset at build time by the MathJax that sphinx-mathjax-offline ships, run by Node.js
  (mathjax_prerender.js): pages carry MathJax's CommonHTML (with its assistive MathML) and one shared
  stylesheet, and load no MathJax script. Typesetting a chapter in the reader's browser cost seconds
  of main-thread time and held back the largest paint on a phone. Without Node.js (or with
  FFN_MATH=browser) the pages typeset in the browser as before.
- Icons: the theme's 1.5 MB `fontawesome.js` only turns `<i class="fa-solid fa-X">` into SVG in the
  reader's browser. The same SVG paths (read from that very file at build time) are written into the
  pages, and the script is dropped.
- Scripts a reader doesn't need: sphinx-thebe (live code from a CDN; the book launches Colab and
  Binder instead) is dropped; the search index and search tools load only on the search page (the
  theme's search box submits to it; search-as-you-type is off); the other small scripts are deferred,
  so none blocks the first paint.
- Images at the size they are shown: each figure wider than SMALL_WIDTH px gets a copy that wide,
  offered through `srcset`, and every article image gets its width and height (no layout shift) and
  `loading="lazy"`.
- Stylesheets: the fifteen a page links (each one a render-blocking round trip on a phone's
  network) are concatenated, in order, into one bundle per distinct list, without the rules no page
  of the site can match (css_prune.py: 590 kB to 194 kB, 97 kB to 32 kB compressed; the largest
  paint came 0.3-0.7 s sooner). Sphinx's documentation_options.js, the one script left blocking the
  first paint, is written into the page.
- The theme's load-time pass that gives scrollable code boxes a tab stop runs in slices of at most 8 ms
  (it was one task of 220-280 ms on Lighthouse's phone, all of a chapter's Total Blocking Time).
- Highlighted code: token <span>s drawn exactly like plain code text are unwrapped (half of a
  chapter's elements).
- Audits: a meta description per page (its front matter's `description`, else its first paragraph),
  a favicon, the theme's default mode set (no "Got invalid theme mode" console error with fresh
  storage) and listitem roles for the bibliography's entries (doc-biblioentry is a deprecated role).

Everything is rewritten in the built HTML in `build-finished` and is idempotent: pages Sphinx did not
rewrite in an incremental build were processed before and come out the same.
"""

import hashlib
import html
import os
import re
from pathlib import Path

import css_prune

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

DESCRIPTION_CHARS = 155          # what search engines show; Lighthouse wants one, of any length
SMALL_WIDTH = 720                # px: a phone's content column (~380 CSS px) at a device pixel ratio of ~1.9
SIZES = "(max-width: 960px) 100vw, 760px"
# Scripts every page lists that the reader doesn't need there (matched on the file name).
DROP_SCRIPTS = ("scripts/fontawesome.js", "sphinx-thebe.js")
SEARCH_ONLY_SCRIPTS = ("searchtools.js", "language_data.js", "searchindex.js")
DEFER_SCRIPTS = ("doctools.js", "sphinx_highlight.js", "clipboard.min.js", "copybutton.js",
                 "sphinx-book-theme.js", "togglebutton.js", "design-tabs.js")
FA_STYLE_CLASSES = {"fa", "fas", "far", "fab", "fa-solid", "fa-regular", "fa-brands", "fa-classic"}
FA_PACKS = {"fas": "solid", "far": "regular", "fab": "brands"}
FA_STYLE_OF_CLASS = {"fas": "solid", "fa-solid": "solid", "far": "regular", "fa-regular": "regular",
                     "fab": "brands", "fa-brands": "brands"}


# --- meta description ---------------------------------------------------------------------

SKIP_PARENTS = (nodes.admonition, nodes.sidebar, nodes.footnote, nodes.citation, nodes.table,
                nodes.list_item, nodes.field_list, nodes.definition_list, nodes.topic, nodes.block_quote)


def _text(paragraph):
    """A paragraph's words; math kept as its TeX with the markup stripped (e.g. W_1 x)."""
    parts = []
    for node in paragraph.findall(nodes.Text):
        if isinstance(node.parent, nodes.math):
            parts.append(re.sub(r"\\[a-zA-Z]+\s*|[{}\\]", "", node.astext()))
        else:
            parts.append(node.astext())
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def first_paragraph(doctree):
    """The first paragraph of prose of a page: not in a list, admonition, table or cell output."""
    fallback = ""
    for paragraph in doctree.findall(nodes.paragraph):
        parent, skip = paragraph.parent, False
        while parent is not None:
            classes = parent.get("classes", []) if isinstance(parent, nodes.Element) else []
            if isinstance(parent, SKIP_PARENTS) or "cell_output" in classes or "output" in classes:
                skip = True
                break
            parent = parent.parent
        if skip:
            continue
        text = _text(paragraph)
        if len(text) < 40:
            continue
        if not list(paragraph.findall(nodes.math)):
            return text
        fallback = fallback or text
    return fallback


def shorten(text, limit=DESCRIPTION_CHARS):
    if len(text) <= limit:
        return text
    cut = text[:limit - 1].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"


def add_description(app, pagename, templatename, context, doctree):
    if not context.get("default_mode"):
        context["default_mode"] = "auto"  # the theme's own default; empty makes its script log an error
    if 'name="description"' in (context.get("metatags") or ""):
        return  # set in the page's front matter (MyST html_meta)
    described = (app.env.metadata.get(pagename, {}) or {}).get("description") if pagename in app.env.all_docs else None
    text = described or (first_paragraph(doctree) if doctree is not None else "")
    if not text:
        title = re.sub(r"<[^>]+>", "", context.get("title") or pagename)
        text = f"{html.unescape(title)}: {app.config.html_title or app.config.project}"
    meta = f'<meta name="description" content="{html.escape(shorten(text), quote=True)}" />\n'
    context["metatags"] = (context.get("metatags") or "") + meta


# --- icons --------------------------------------------------------------------------------

ICON_ENTRY = re.compile(
    r'(?:"([^"]+)"|([A-Za-z0-9_$]+)):\[(\d+),(\d+),\[([^\]]*)\],"[0-9a-f]*",("(?:[^"\\]|\\.)*")\]')
PACK_START = re.compile(r"var p=\{")
PACK_END = re.compile(r'd\("(fa[srb])",p\)')


def load_icons(fontawesome_js):
    """{(style, name): (width, height, path)} from the theme's fontawesome.js."""
    source = Path(fontawesome_js).read_text(encoding="utf-8")
    icons = {}
    # Each pack is `var p={name:[width,height,[aliases],"unicode","path"],...}` then `d("fas",p)`.
    for start in PACK_START.finditer(source):
        end = PACK_END.search(source, start.end())
        if end is None:
            continue
        style = FA_PACKS[end.group(1)]
        for m in ICON_ENTRY.finditer(source, start.end(), end.start()):
            name = m.group(1) or m.group(2)
            value = (int(m.group(3)), int(m.group(4)), m.group(6)[1:-1])
            icons[(style, name)] = value
            for alias in re.findall(r'"([^"]+)"', m.group(5)):
                icons.setdefault((style, alias), value)
    if not icons:
        raise ExtensionError(f"fast_site: found no icons in {fontawesome_js}: the theme's fontawesome.js changed form")
    return icons


ICON_ELEMENT = re.compile(r'<(i|span)\s([^>]*?)class="([^"]*\bfa[srb]?-?[a-z-]*\b[^"]*)"([^>]*)>\s*</\1>')


def _icon_svg(match, icons, page):
    tag, before, classes, after = match.groups()
    names = classes.split()
    style = next((FA_STYLE_OF_CLASS[c] for c in names if c in FA_STYLE_OF_CLASS), None)
    if style is None or not any(c.startswith("fa-") for c in names):
        return match.group(0)
    icon_names = [c[3:] for c in names if c.startswith("fa-") and c not in FA_STYLE_CLASSES
                  and (style, c[3:]) in icons]
    if not icon_names:
        raise ExtensionError(f"fast_site: {page}: no icon for <{tag} class=\"{classes}\"> in the theme's "
                             "fontawesome.js (the page would show an empty box)")
    width, height, path = icons[(style, icon_names[0])]
    kept = " ".join(c for c in names if c not in FA_STYLE_CLASSES)
    attrs = (before + after).strip()
    title = re.search(r'title="([^"]*)"', attrs)
    inner = f"<title>{title.group(1)}</title>" if title else ""
    return (f'<svg class="svg-inline--fa {kept}" {attrs} aria-hidden="true" focusable="false" role="img" '
            f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}">{inner}'
            f'<path fill="currentColor" d="{path}"></path></svg>')


# --- images -------------------------------------------------------------------------------

IMG = re.compile(r"<img\s[^>]*>")


def _attr(tag, name):
    m = re.search(rf'\s{name}="([^"]*)"', tag)
    return m.group(1) if m else None


def _small_copy(outdir, page_path, src):
    """(small src, small width, width, height) for a local raster image, making the copy once."""
    from PIL import Image

    target = (page_path.parent / src).resolve()
    try:
        target.relative_to(outdir)
    except ValueError:
        return None
    if not target.is_file() or target.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        return None
    with Image.open(target) as image:
        width, height = image.size
        if width <= SMALL_WIDTH * 1.25:
            return None, None, width, height
        small = target.with_name(f"{target.stem}-{SMALL_WIDTH}w{target.suffix}")
        small_height = round(height * SMALL_WIDTH / width)
        if not small.is_file() or small.stat().st_mtime < target.stat().st_mtime:
            image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").resize(
                (SMALL_WIDTH, small_height), Image.LANCZOS).save(small, optimize=True)
    return src.rsplit("/", 1)[0] + "/" + small.name if "/" in src else small.name, SMALL_WIDTH, width, height


def _image(match, outdir, page_path):
    tag = match.group(0)
    src = _attr(tag, "src")
    if not src or src.startswith(("data:", "http:", "https:", "//")) or "_images/" not in src:
        return tag
    end = "/>" if tag.endswith("/>") else ">"
    body = tag[: -len(end)].rstrip()
    info = _small_copy(outdir, page_path, src)
    if info is None:
        return tag
    small, small_width, width, height = info
    extra = []
    if _attr(tag, "width") is None and _attr(tag, "height") is None:
        extra.append(f'width="{width}" height="{height}"')
    if small and _attr(tag, "srcset") is None:
        extra.append(f'srcset="{small} {small_width}w, {src} {width}w" sizes="{SIZES}"')
    if _attr(tag, "loading") is None:
        extra.append('loading="lazy" decoding="async"')
    return f"{body} {' '.join(extra)} {end}" if extra else tag


# --- highlighted code ---------------------------------------------------------------------

PYGMENTS_RULE = re.compile(r'(?:html\[data-theme="([a-z]+)"\] )?\.highlight(?: \.([A-Za-z0-9]+))? \{([^}]*)\}')


def plain_token_classes(pygments_css):
    """Pygments token classes drawn exactly like plain code text in every theme (colour only, the same).

    Their <span>s are unwrapped: a chapter's code had ~4,000 of them (names, punctuation), half of
    the page's elements, each one styled and laid out on the reader's phone for nothing.
    """
    base, token = {}, {}
    for theme, cls, body in PYGMENTS_RULE.findall(Path(pygments_css).read_text(encoding="utf-8")):
        decls = {k.strip(): v.strip() for k, _, v in (d.partition(":") for d in body.split(";")) if k.strip()}
        if not cls:
            if "color" in decls:
                base[theme] = decls["color"].lower()
        else:
            token.setdefault(cls, {})[theme] = decls
    plain = set()
    for cls, by_theme in token.items():
        if base and set(by_theme) == set(base) and all(
                list(d) == ["color"] and d["color"].lower() == base[t] for t, d in by_theme.items()):
            plain.add(cls)
    return plain


def unwrap_plain_tokens(text, classes):
    if not classes:
        return text
    span = re.compile(r'<span class="(?:' + "|".join(sorted(classes)) + r')">([^<]*)</span>')
    out, pos = [], 0
    # Only inside highlighted code blocks.
    for block in re.finditer(r'<div class="highlight"><pre>.*?</pre></div>', text, re.S):
        out.append(text[pos:block.start()])
        out.append(span.sub(r"\1", block.group(0)))
        pos = block.end()
    out.append(text[pos:])
    return "".join(out)


# --- math at build time ------------------------------------------------------------------

INLINE_MATH = re.compile(r'(<span class="math notranslate nohighlight"[^>]*>)\\\((.*?)\\\)(</span>)', re.S)
DISPLAY_MATH = re.compile(r'(<div class="math notranslate nohighlight"[^>]*>)\s*((?:<span class="eqno">.*?</span>)?)'
                          r'\s*(.*?)\s*(</div>)', re.S)
MATHJAX_SCRIPTS = re.compile(r'<script>window\.MathJax = [^<]*</script>\s*\n?|'
                             r'<script[^>]*src="[^"]*mathjax/tex-chtml\.js[^"]*"[^>]*></script>\s*\n?')
MATH_CSS = "_static/mathjax-chtml.css"


def _display_tex(body):
    tex = body.strip()
    if tex.startswith("\\[") and tex.endswith("\\]"):
        tex = tex[2:-2]
    return tex.strip()


RENDERED_MATH = re.compile(r'<(span|div) class="math notranslate nohighlight"[^>]*\sdata-tex="([^"]*)"')


def page_math(text):
    """[(tex, display)] of a page's math: still TeX, or typeset before (its TeX kept in data-tex)."""
    items = [(html.unescape(m.group(2)), False) for m in INLINE_MATH.finditer(text)]
    for m in DISPLAY_MATH.finditer(text):
        if "<mjx-container" not in m.group(3):
            items.append((html.unescape(_display_tex(m.group(3))), True))
    items += [(html.unescape(m.group(2)), m.group(1) == "div") for m in RENDERED_MATH.finditer(text)]
    return items


def _with_tex(open_tag, tex):
    return open_tag[:-1] + f' data-tex="{html.escape(tex, quote=True)}">'


class MathRenderer:
    """TeX to CommonHTML through Node.js and the MathJax sphinx-mathjax-offline ships, with a cache."""

    def __init__(self, app, outdir):
        import importlib.util
        import shutil

        self.node = shutil.which("node")
        spec = importlib.util.find_spec("sphinx-mathjax-offline")
        self.mathjax = Path(spec.origin).parent / "static" / "mathjax" if spec else None
        self.cache_path = Path(app.doctreedir) / "fast_site_math.json"
        self.tex_config = (app.config.mathjax3_config or {}).get("tex", {})
        self.outdir = outdir
        self.cache = {"html": {}, "css": ""}
        if self.cache_path.is_file():
            import contextlib
            import json

            with contextlib.suppress(ValueError):  # a damaged cache is rebuilt
                self.cache = json.loads(self.cache_path.read_text(encoding="utf-8"))

    @property
    def available(self):
        if os.environ.get("FFN_MATH") == "browser":  # force the fallback (to test it)
            return False
        return bool(self.node and self.mathjax and (self.mathjax / "startup.js").is_file())

    @staticmethod
    def key(tex, display):
        return ("D:" if display else "I:") + tex

    def render(self, items):
        """Make sure every (tex, display) is in the cache; returns (html by key, errors)."""
        import json
        import subprocess

        wanted = {self.key(t, d) for t, d in items}
        if wanted <= set(self.cache["html"]) and (self.cache["css"] or not wanted):
            return self.cache["html"], []
        # Typeset all known and new math in one run, so one stylesheet covers every page.
        keys = sorted(set(self.cache["html"]) | wanted)
        request = {"mathjax": str(self.mathjax), "fontURL": "mathjax/output/chtml/fonts/woff-v2",
                   "tex": self.tex_config, "items": [[k[2:], k.startswith("D:")] for k in keys]}
        done = subprocess.run([self.node, str(Path(__file__).with_name("mathjax_prerender.js"))],
                              input=json.dumps(request), capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise ExtensionError(f"fast_site: typesetting math with Node.js failed: {done.stderr[-2000:]}")
        result = json.loads(done.stdout)
        # Math shows in a fallback font while MathJax's fonts load, rather than not at all.
        result["css"] = re.sub(r"@font-face\s*(?:/\*[^*]*\*/)?\s*\{", "@font-face {\n  font-display: swap;",
                               result["css"])
        errors = [(keys[i], message) for i, message in result["errors"]]
        self.cache = {"html": dict(zip(keys, result["html"], strict=True)), "css": result["css"]}
        self.cache_path.write_text(json.dumps(self.cache), encoding="utf-8")
        return self.cache["html"], errors

    def write_css(self):
        target = self.outdir / MATH_CSS
        if not target.is_file() or target.read_text(encoding="utf-8") != self.cache["css"]:
            target.write_text(self.cache["css"], encoding="utf-8")


def typeset_page(text, page, rendered):
    """The page with its math replaced by CommonHTML, MathJax's scripts dropped, the stylesheet linked."""
    def inline(m):
        tex = html.unescape(m.group(2))
        return _with_tex(m.group(1), tex) + rendered[MathRenderer.key(tex, False)] + m.group(3)

    def display(m):
        if "<mjx-container" in m.group(3):
            return m.group(0)
        tex = html.unescape(_display_tex(m.group(3)))
        return _with_tex(m.group(1), tex) + m.group(2) + rendered[MathRenderer.key(tex, True)] + m.group(4)

    text = INLINE_MATH.sub(inline, text)
    text = DISPLAY_MATH.sub(display, text)
    text = MATHJAX_SCRIPTS.sub("", text)
    if "<mjx-container" in text and "mathjax-chtml.css" not in text[:text.find("</head>")]:
        prefix = "../" * page.count("/")
        text = text.replace("</head>", f'<link rel="stylesheet" href="{prefix}{MATH_CSS}" />\n</head>', 1)
    return text


# --- one stylesheet instead of fifteen ------------------------------------------------------

STYLESHEET = re.compile(r'<link\b[^>]*\brel="stylesheet"[^>]*>\s*\n?')
CSS_URL = re.compile(r'url\(\s*(["\']?)([^"\')]+)\1\s*\)')
CSS_IMPORT = re.compile(r'@import\s+(?:url\()?\s*["\']([^"\']+)["\']\s*\)?\s*;')
DROP_CSS = ("sphinx-thebe.css",)


def _css_text(path, static, seen):
    """A stylesheet's text with its @imports inlined and its url()s made relative to _static/."""
    if path in seen:
        return ""
    seen.add(path)
    text = path.read_text(encoding="utf-8")

    def inline(m):
        return _css_text((path.parent / m.group(1).split("?")[0]).resolve(), static, seen)

    def rebase(m):
        url = m.group(2).strip()
        if url.startswith(("data:", "http:", "https:", "//", "#", "/")):
            return m.group(0)
        target = (path.parent / url.split("?")[0].split("#")[0]).resolve()
        rel = Path(os.path.relpath(target, static)).as_posix()
        suffix = url[len(url.split("?")[0].split("#")[0]):]
        return f'url("{rel}{suffix}")'

    text = CSS_IMPORT.sub(inline, text)
    return f"/* {path.relative_to(static.parent).as_posix()} */\n" + CSS_URL.sub(rebase, text) + "\n"


def full_bundle(static, names):
    """The stylesheets `names` (relative to _static/) in one text, in order, before pruning."""
    seen, static = set(), Path(static).resolve()
    text = "".join(_css_text((static / n).resolve(), static, seen) for n in names)
    return text.replace("@charset \"UTF-8\";", "")


class Bundles:
    """Bundles of a page's stylesheets, one file per distinct list, named by content, without the rules
    no page of the site can match (css_prune.py)."""

    def __init__(self, outdir, names):
        self.outdir = outdir
        self.static = outdir / "_static"
        self.names = names
        self.made = {}

    def bundle(self, names):
        key = tuple(names)
        if key not in self.made:
            text = css_prune.prune(full_bundle(self.static, names), self.names)
            name = f"bundle-{hashlib.sha1(text.encode()).hexdigest()[:12]}.css"
            target = self.static / name
            if not target.is_file():
                target.write_text(text, encoding="utf-8")
            self.made[key] = name
        return self.made[key]

    def remove_stale(self):
        used = set(self.made.values())
        for old in self.static.glob("bundle-*.css"):
            if old.name not in used:
                old.unlink()


def bundle_css(text, page, bundles):
    """Replace the page's local stylesheets by one bundle (data-bundle keeps the list, so a rebuild is fresh)."""
    head_end = text.find("</head>")
    if head_end < 0:
        return text
    prefix = "../" * page.count("/") + "_static/"
    names, first = [], None
    links = list(STYLESHEET.finditer(text, 0, head_end))
    for m in links:
        tag = m.group(0)
        listed = re.search(r'data-bundle="([^"]*)"', tag)
        if listed:
            names.extend(listed.group(1).split())
        else:
            href = re.search(r'href="([^"]+)"', tag).group(1).split("?")[0]
            if not href.startswith(prefix):
                continue  # not ours: leave it alone
            names.append(href[len(prefix):])
        first = m if first is None else first
    names = list(dict.fromkeys(n for n in names if not n.endswith(DROP_CSS) and (bundles.static / n).is_file()))
    if first is None or not names:
        return text
    name = bundles.bundle(names)
    link = f'<link rel="stylesheet" href="{prefix}{name}" data-bundle="{" ".join(names)}" />\n'
    out, pos = [], 0
    for m in links:
        tag = m.group(0)
        if 'data-bundle="' in tag or re.search(r'href="' + re.escape(prefix), tag):
            out.append(text[pos:m.start()])
            if m is first:
                out.append(link)
            pos = m.end()
    out.append(text[pos:])
    return "".join(out)


# --- scripts ------------------------------------------------------------------------------

SCRIPT_SRC = re.compile(r'<script\b([^>]*)\bsrc="([^"]+)"([^>]*)></script>\s*\n?')
THEBE_INLINE = re.compile(r"<script>const THEBE_JS_URL[^<]*</script>\s*\n?")
DOCUMENTATION_OPTIONS = re.compile(r'<script src="[^"]*documentation_options\.js(?:\?[^"]*)?"></script>\s*\n?')
FONTAWESOME_PRELOAD = re.compile(r'<link rel="preload" as="script" href="[^"]*fontawesome\.js[^"]*" />\s*\n?')


def _script(match, is_search):
    before, src, after = match.groups()
    name = src.split("?")[0]
    if name.endswith(DROP_SCRIPTS) or (not is_search and name.endswith(SEARCH_ONLY_SCRIPTS)):
        return ""
    # On the search page searchtools.js runs at once and needs doctools.js: nothing deferred there.
    if (not is_search and name.endswith(DEFER_SCRIPTS) and "defer" not in before + after
            and "async" not in before + after):
        return match.group(0).replace("<script", "<script defer", 1)
    return match.group(0)


# --- the theme's tab stops, without a long task -------------------------------------------

# pydata-sphinx-theme 0.17 (pinned) makes every scrollable code box and output keyboard-focusable once the
# page has loaded, by reading the scrollWidth of each of them (hundreds in a chapter) in one go. Sections
# off screen are skipped by `content-visibility` (course.css), so each read forces a layout: one task of
# 220-280 ms on Lighthouse's phone, all of a chapter's Total Blocking Time. The same work is done in
# slices of at most 8 ms, so the page stays responsive and every box still gets its tab stop.
THEME_JS = "scripts/pydata-sphinx-theme.js"
TAB_STOPS = (
    'document.querySelectorAll(["pre",".nboutput > .output_area",".cell_output > .output",'
    '".jp-RenderedHTMLCommon",".pst-scrollable-table-container"].join(", ")).forEach(e=>{e.tabIndex='
    'e.scrollWidth>e.clientWidth||e.scrollHeight>e.clientHeight?0:-1})'
)
IN_SLICES = (
    "/* fast_site.py: the theme's tab stops in slices of at most 8 ms (no long task); a new pass (on resize) "
    "stops the one before */\n"
    "function ffnInSlices(items,f){const run=ffnInSlices.run=(ffnInSlices.run||0)+1,l=Array.from(items);"
    "let i=0;const s=()=>{if(run!==ffnInSlices.run)return;const d=performance.now()+8;"
    "for(;i<l.length&&performance.now()<d;)f(l[i++]);i<l.length&&setTimeout(s)};s()}\n"
)


def theme_script():
    """The theme's script as the theme ships it (the copy in _static/ may be patched already)."""
    import pydata_sphinx_theme

    return (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"
            / THEME_JS).read_text(encoding="utf-8")


def sliced_tab_stops(js):
    """The theme's script with its tab-stop pass done in slices."""
    if js.count(TAB_STOPS) != 1:
        raise ExtensionError(f"fast_site: the tab-stop code of {THEME_JS} was not found once: the theme changed; "
                             "update TAB_STOPS in book/_ext/fast_site.py (or drop the patch and measure TBT)")
    head, _, loop = TAB_STOPS.partition(".forEach(")
    js = js.replace(TAB_STOPS, f"ffnInSlices({head},{loop}")
    code, mark, source_map = js.rpartition("//# sourceMappingURL=")
    return (code + IN_SLICES + mark + source_map) if mark else js + "\n" + IN_SLICES


# --- the pass over the built site ---------------------------------------------------------

def inline_options(text, options):
    """Sphinx's documentation_options.js (a dozen settings the inline scripts after it use) written into
    the page: as a file it is the one script that blocks the first paint, for a round trip."""
    return DOCUMENTATION_OPTIONS.sub(lambda m: f"<script>{options.strip()}</script>\n", text)


def rewrite_page(text, page, outdir, icons, plain, options):
    page_path = outdir / page
    is_search = page == "search.html"
    text = inline_options(text, options)
    text = SCRIPT_SRC.sub(lambda m: _script(m, is_search), text)
    text = THEBE_INLINE.sub("", text)
    text = FONTAWESOME_PRELOAD.sub("", text)
    text = ICON_ELEMENT.sub(lambda m: _icon_svg(m, icons, page), text)
    text = IMG.sub(lambda m: _image(m, outdir, page_path), text)
    text = text.replace('role="doc-biblioentry"', 'role="listitem"')
    text = unwrap_plain_tokens(text, plain)
    return text


def sync_static(app, outdir):
    """Copy the book's own static files again: with no page out of date Sphinx skips copying them, and
    the bundles are made from the copies."""
    import shutil

    for folder in app.config.html_static_path:
        source = Path(app.confdir) / folder
        for path in source.rglob("*") if source.is_dir() else ():
            target = outdir / "_static" / path.relative_to(source)
            if path.is_file() and not path.name.endswith("_t") and (
                    not target.is_file() or target.read_bytes() != path.read_bytes()):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)


def site_names(outdir, pages):
    """The class names, ids and element names of every page, and the words of every script the pages
    can load (all of _static/ but the icon script no page loads), for css_prune."""
    names = css_prune.Names()
    for text in pages:
        names.add_page(text)
    for path in sorted((outdir / "_static").rglob("*.js")):
        if not path.as_posix().endswith(DROP_SCRIPTS):
            names.add_script(path.read_text(encoding="utf-8", errors="replace"))
    return names


def rewrite_site(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir).resolve()
    sync_static(app, outdir)
    fontawesome = outdir / "_static" / "scripts" / "fontawesome.js"
    if not fontawesome.is_file():
        raise ExtensionError(f"fast_site: {fontawesome} is missing: the theme no longer ships it; update fast_site.py")
    icons = load_icons(fontawesome)
    theme_js = outdir / "_static" / THEME_JS
    theme_js.write_text(sliced_tab_stops(theme_script()), encoding="utf-8")
    options_js = outdir / "_static" / "documentation_options.js"
    if not options_js.is_file():
        raise ExtensionError(f"fast_site: {options_js} is missing: Sphinx no longer writes it; update fast_site.py")
    options = options_js.read_text(encoding="utf-8")
    if "</" in options:
        raise ExtensionError(f"fast_site: {options_js} contains '</': it cannot be written inside a <script>")
    pygments_css = outdir / "_static" / "pygments.css"
    plain = plain_token_classes(pygments_css) if pygments_css.is_file() else set()
    pages = {}
    for path in sorted(outdir.rglob("*.html")):
        rel = path.relative_to(outdir).as_posix()
        if not rel.startswith(("_static/", "_sources/", ".doctrees/")):
            pages[rel] = path.read_text(encoding="utf-8")
    math = MathRenderer(app, outdir)
    if math.available:
        items = [item for text in pages.values() for item in page_math(text)]
        rendered, errors = math.render(items)
        for key, message in errors:
            logger.warning(f"fast_site: TeX error in {key[2:]!r}: {message}")
        math.write_css()
    else:
        rendered = None
        logger.info("fast_site: Node.js not found: math is typeset in the reader's browser; "
                    "install Node.js 18+ to typeset it at build time (faster pages)")
    new_pages = {}
    for rel, text in pages.items():
        new = rewrite_page(text, rel, outdir, icons, plain, options)
        new_pages[rel] = new if rendered is None else typeset_page(new, rel, rendered)
    bundles = Bundles(outdir, site_names(outdir, new_pages.values()))
    count = 0
    for rel, text in pages.items():
        new = bundle_css(new_pages[rel], rel, bundles)
        if new != text:
            (outdir / rel).write_text(new, encoding="utf-8")
            count += 1
    bundles.remove_stale()
    logger.info(f"fast_site: rewrote {count} page(s) (math, inline icons, scripts, images, one stylesheet)")


def set_config(app, config):
    if not config.html_favicon:
        config.html_favicon = str(Path(__file__).resolve().parents[1] / "_static" / "favicon.svg")


def setup(app):
    app.connect("config-inited", set_config, priority=900)
    app.connect("html-page-context", add_description, priority=950)
    app.connect("build-finished", rewrite_site, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
