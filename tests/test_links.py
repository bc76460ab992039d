"""A link crawler over the built site: no broken internal link or anchor, every page reachable.

Needs no browser (stdlib html.parser), so it always runs. The crawler is also shown to catch a
broken link, a broken anchor and an orphan page on a small hand-made site.
"""

import posixpath
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import site_helpers as sh

# Attributes that point at another resource, by tag.
LINK_ATTRIBUTES = {
    "a": ("href",), "area": ("href",), "link": ("href",), "img": ("src",), "script": ("src",),
    "source": ("src",), "iframe": ("src",), "video": ("src", "poster"), "audio": ("src",),
    "embed": ("src",), "object": ("data",), "form": ("action",),
}
# Folders of the built site that hold assets, not pages (templates under _static are not pages).
NOT_PAGES = ("_static", "_sources", "_images", ".doctrees")


class PageParser(HTMLParser):
    """The ids (anchors) a page defines and the links it makes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.links = []  # (tag, url)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for attr in LINK_ATTRIBUTES.get(tag, ()):
            if attrs.get(attr):
                self.links.append((tag, attrs[attr].strip()))
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            content = attrs.get("content") or ""
            if "url=" in content.lower():
                self.links.append(("meta", content[content.lower().index("url=") + 4:].strip().strip("'\"")))

    handle_startendtag = handle_starttag


def parse(path):
    parser = PageParser()
    parser.feed(Path(path).read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser


def site_pages(site):
    """Every HTML page of the site, relative POSIX paths."""
    site = Path(site)
    return sorted(
        p.relative_to(site).as_posix() for p in site.rglob("*.html")
        if p.relative_to(site).parts[0] not in NOT_PAGES
    )


def is_external(url):
    parts = urlsplit(url)
    return bool(parts.scheme) or url.startswith("//")


def resolve(page, url):
    """(target path relative to the site root, fragment) for an internal link on `page`."""
    parts = urlsplit(url)
    fragment = unquote(parts.fragment)
    if not parts.path:
        return page, fragment
    target = posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(parts.path)))
    if url.split("#")[0].split("?")[0].endswith("/"):
        target = posixpath.join(target, "index.html")
    return target, fragment


class Crawl:
    """Every internal link of every page of a built site, checked."""

    def __init__(self, site):
        self.site = Path(site)
        self.pages = site_pages(site)
        self.parsed = {}
        self.broken_files = []    # "page: url (why)"
        self.broken_anchors = []
        self.checked = 0
        for page in self.pages:
            self.check_page(page)

    def page(self, rel):
        if rel not in self.parsed:
            self.parsed[rel] = parse(self.site / rel)
        return self.parsed[rel]

    def check_page(self, page):
        for tag, url in self.page(page).links:
            if is_external(url):
                continue
            self.checked += 1
            target, fragment = resolve(page, url)
            if target.startswith("../") or target == "..":
                self.broken_files.append(f"{page}: <{tag}> {url} (points outside the site)")
                continue
            path = self.site / target
            if path.is_dir():
                path, target = path / "index.html", posixpath.join(target, "index.html")
            if not path.is_file():
                self.broken_files.append(f"{page}: <{tag}> {url} (no file {target})")
                continue
            if (fragment and fragment.lower() != "top" and target.endswith(".html")
                    and fragment not in self.page(target).ids):
                self.broken_anchors.append(f"{page}: <{tag}> {url} (no id {fragment!r} in {target})")

    def reachable(self, start="index.html"):
        """Pages reached from `start` by following links (a, meta refresh) between pages."""
        seen, queue = {start}, deque([start])
        while queue:
            page = queue.popleft()
            for tag, url in self.page(page).links:
                if tag not in ("a", "area", "meta") or is_external(url):
                    continue
                target, _ = resolve(page, url)
                if target in self.pages and target not in seen:
                    seen.add(target)
                    queue.append(target)
        return seen


@pytest.fixture(scope="module")
def crawl(site_built):
    return Crawl(site_built)


def test_site_has_the_pages_of_the_toc(site_built):
    built = set(site_pages(site_built))
    missing = [p for p in sh.expected_pages() if p not in built]
    assert not missing, f"pages in {sh.toc_path().name} but not in the built site {site_built}: {missing}"


def test_no_broken_internal_links(crawl):
    assert crawl.checked > 0, "the crawler found no internal links at all"
    assert crawl.broken_files == [], f"{len(crawl.broken_files)} broken internal link(s):\n" + "\n".join(crawl.broken_files)


def test_no_broken_anchors(crawl):
    assert crawl.broken_anchors == [], f"{len(crawl.broken_anchors)} broken anchor(s):\n" + "\n".join(crawl.broken_anchors)


def test_every_page_is_reachable_from_the_home_page(crawl):
    reached = crawl.reachable()
    orphans = [e + ".html" for e in sh.toc_entries() if e + ".html" not in reached]
    assert orphans == [], f"pages no link leads to from index.html: {orphans}"


# --- the crawler bites: a hand-made site with one fault of each kind ------------------------

def write(site, rel, body):
    path = site / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!DOCTYPE html><html><head></head><body>{body}</body></html>", encoding="utf-8")


@pytest.fixture
def tiny_site(tmp_path):
    write(tmp_path, "index.html", "")
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />')
    write(tmp_path, "book/intro.html",
          '<a href="../chapters/01_a.html#sec">ok</a> <a href="https://example.org/x">external</a>'
          '<a href="#">top</a> <img src="../_static/logo.png"> <a href="mailto:a@b.c">mail</a>'
          '<a href="../chapters/">folder</a>')
    write(tmp_path, "chapters/01_a.html", '<section id="sec"><a href="../book/intro.html#">up</a></section>')
    write(tmp_path, "chapters/index.html", '<a href="01_a.html">a</a>')
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "logo.png").write_bytes(b"png")
    return tmp_path


def test_crawler_passes_a_good_site(tiny_site):
    crawl = Crawl(tiny_site)
    assert crawl.broken_files == [] and crawl.broken_anchors == []
    assert crawl.reachable() == {"index.html", "book/intro.html", "chapters/01_a.html", "chapters/index.html"}


def test_crawler_finds_a_missing_page(tiny_site):
    write(tiny_site, "book/intro.html", '<a href="../chapters/02_missing.html">gone</a>')
    crawl = Crawl(tiny_site)
    assert any("02_missing.html" in p for p in crawl.broken_files), crawl.broken_files


def test_crawler_finds_a_missing_asset(tiny_site):
    write(tiny_site, "chapters/01_a.html", '<img src="../_images/fig.png">')
    crawl = Crawl(tiny_site)
    assert any("_images/fig.png" in p for p in crawl.broken_files), crawl.broken_files


def test_crawler_finds_a_missing_anchor(tiny_site):
    write(tiny_site, "chapters/01_a.html",
          '<h2 id="sec">ok</h2><a href="#no-such-heading">x</a> <a href="../book/intro.html#nope">y</a>')
    crawl = Crawl(tiny_site)
    assert len(crawl.broken_anchors) == 2, crawl.broken_anchors
    assert all("no-such-heading" in p or "nope" in p for p in crawl.broken_anchors)


def test_crawler_finds_an_orphan_page(tiny_site):
    write(tiny_site, "chapters/02_orphan.html", "alone")
    assert "chapters/02_orphan.html" not in Crawl(tiny_site).reachable()
