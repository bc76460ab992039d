"""A site that is fast on a phone and clean in Lighthouse's audits (issue 17).

Measured with `make bench-site` (scripts/bench_site.py); benchmarks/README.md has the before/after table.
What this extension does, each measured to matter:

- Math: MathJax 3 typesets lazily (its `ui/lazy` extension): only the expressions on screen, the rest as
  the reader scrolls. Typesetting a whole chapter up front cost seconds of style/layout on a phone.
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
- Audits: a meta description per page (its front matter's `description`, else its first paragraph),
  a favicon, the theme's default mode set (no "Got invalid theme mode" console error with fresh
  storage) and listitem roles for the bibliography's entries (doc-biblioentry is a deprecated role).

Everything is rewritten in the built HTML in `build-finished` and is idempotent: pages Sphinx did not
rewrite in an incremental build were processed before and come out the same.
"""

import html
import re
from pathlib import Path

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


# --- scripts ------------------------------------------------------------------------------

SCRIPT_SRC = re.compile(r'<script\b([^>]*)\bsrc="([^"]+)"([^>]*)></script>\s*\n?')
THEBE_INLINE = re.compile(r"<script>const THEBE_JS_URL[^<]*</script>\s*\n?")
FONTAWESOME_PRELOAD = re.compile(r'<link rel="preload" as="script" href="[^"]*fontawesome\.js[^"]*" />\s*\n?')


def _script(match, is_search):
    before, src, after = match.groups()
    name = src.split("?")[0]
    if name.endswith(DROP_SCRIPTS) or (not is_search and name.endswith(SEARCH_ONLY_SCRIPTS)):
        return ""
    if name.endswith(DEFER_SCRIPTS) and "defer" not in before + after and "async" not in before + after:
        return match.group(0).replace("<script", "<script defer", 1)
    return match.group(0)


# --- the pass over the built site ---------------------------------------------------------

def rewrite_page(text, page, outdir, icons):
    page_path = outdir / page
    is_search = page == "search.html"
    text = SCRIPT_SRC.sub(lambda m: _script(m, is_search), text)
    text = THEBE_INLINE.sub("", text)
    text = FONTAWESOME_PRELOAD.sub("", text)
    text = ICON_ELEMENT.sub(lambda m: _icon_svg(m, icons, page), text)
    text = IMG.sub(lambda m: _image(m, outdir, page_path), text)
    text = text.replace('role="doc-biblioentry"', 'role="listitem"')
    return text


def rewrite_site(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir).resolve()
    fontawesome = outdir / "_static" / "scripts" / "fontawesome.js"
    if not fontawesome.is_file():
        raise ExtensionError(f"fast_site: {fontawesome} is missing: the theme no longer ships it; update fast_site.py")
    icons = load_icons(fontawesome)
    count = 0
    for path in sorted(outdir.rglob("*.html")):
        rel = path.relative_to(outdir).as_posix()
        if rel.startswith(("_static/", "_sources/", ".doctrees/")):
            continue
        text = path.read_text(encoding="utf-8")
        new = rewrite_page(text, rel, outdir, icons)
        if new != text:
            path.write_text(new, encoding="utf-8")
            count += 1
    logger.info(f"fast_site: rewrote {count} page(s) (inline icons, scripts, images)")


def set_config(app, config):
    mathjax = dict(config.mathjax3_config or {})
    loader = dict(mathjax.get("loader") or {})
    load = list(loader.get("load") or [])
    if "ui/lazy" not in load:
        load.append("ui/lazy")
    loader["load"] = load
    mathjax["loader"] = loader
    config.mathjax3_config = mathjax
    if not config.html_favicon:
        config.html_favicon = str(Path(__file__).resolve().parents[1] / "_static" / "favicon.svg")


def setup(app):
    app.connect("config-inited", set_config, priority=900)
    app.connect("html-page-context", add_description, priority=950)
    app.connect("build-finished", rewrite_site, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
