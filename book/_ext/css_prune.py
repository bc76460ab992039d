"""Drop the style rules no page of the site can match (issue 17: the stylesheet blocks the first paint).

The theme's stylesheets are 590 kB (97 kB gzip-compressed), and Lighthouse finds 92% of them unused on
any page: most of Bootstrap, every Font Awesome icon, every sphinx-design component. A phone downloads
and parses all of it before it paints anything. This keeps a rule when one of its selectors may match
something the site has, in the way of PurgeCSS:

- the names the site has are the class names, ids and element names in every built page, and every word
  in the shipped scripts (a script may add a class such as `show` or `pst-squeeze` at run time, or build
  an element), so what a script can produce is kept;
- a selector is kept unless it needs a class, id or element name the site does not have; what is inside
  `:not()`, `:is()`, `:where()`, `:has()` and the like is not required (kept either way), and attribute
  selectors are not checked (the theme sets `data-theme` and the like at run time);
- at-rules that hold rules (`@media`, `@supports`, `@layer`, `@container`) are pruned inside and dropped
  when empty; every other at-rule (`@font-face`, `@keyframes`, `@import`, ...) is kept as it is.

Nothing is rewritten inside a kept rule, so what is kept is drawn exactly as before.
"""

import re

GROUPING_AT_RULES = ("@media", "@supports", "@layer", "@container", "@document", "@-moz-document")
WORD = re.compile(r"[A-Za-z0-9_-]+")
CLASS_ATTR = re.compile(r'\bclass="([^"]*)"')
ID_ATTR = re.compile(r'\bid="([^"]*)"')
TAG = re.compile(r"<([A-Za-z][A-Za-z0-9-]*)")
# In a selector: the argument of a functional pseudo-class, e.g. :not(.a, .b) or :nth-child(2n of .x).
PSEUDO_ARGS = re.compile(r":[A-Za-z-]+\(")
ATTRIBUTE = re.compile(r"\[[^\]]*\]")
NAME = r"(?:[A-Za-z0-9_-]|\\.)+"
SIMPLE = re.compile(r"([.#]?)(" + NAME + r")|::?" + NAME + r"|\*|[>+~\s,]+|\|")


class Names:
    """What the site has: class names, ids and element names (lower case)."""

    def __init__(self):
        self.classes, self.ids, self.tags = set(), set(), set()
        self.words = set()  # from scripts: any of them may be a class, an id or an element name

    def add_page(self, html):
        for value in CLASS_ATTR.findall(html):
            self.classes.update(value.split())
        self.ids.update(ID_ATTR.findall(html))
        self.tags.update(t.lower() for t in TAG.findall(html))

    def add_script(self, js):
        self.words.update(WORD.findall(js))

    def has(self, kind, name):
        if name in self.words:
            return True
        if kind == ".":
            return name in self.classes
        if kind == "#":
            return name in self.ids
        return name.lower() in self.tags or name.lower() in self.words


def _unescape(name):
    return re.sub(r"\\([0-9a-fA-F]{1,6}\s?|.)", lambda m: chr(int(m.group(1), 16)) if re.fullmatch(
        r"[0-9a-fA-F]{1,6}\s?", m.group(1)) else m.group(1), name)


def _without_pseudo_args(selector):
    """The selector with the arguments of its functional pseudo-classes removed (not required to match)."""
    out, i = [], 0
    for m in PSEUDO_ARGS.finditer(selector):
        if m.start() < i:
            continue
        out.append(selector[i:m.end() - 1])
        depth, j = 0, m.end() - 1
        while j < len(selector):
            depth += {"(": 1, ")": -1}.get(selector[j], 0)
            j += 1
            if depth == 0:
                break
        i = j
    out.append(selector[i:])
    return "".join(out)


def may_match(selector, names):
    """False only when the selector needs a class, id or element name that the site does not have."""
    plain = ATTRIBUTE.sub("", _without_pseudo_args(selector))
    pos = 0
    while pos < len(plain):
        m = SIMPLE.match(plain, pos)
        if not m or m.end() == pos:
            return True  # something this reader does not know: keep the rule
        pos = m.end()
        if m.group(2) is None:
            continue  # a combinator, a pseudo-class or pseudo-element, or *
        kind, name = m.group(1), _unescape(m.group(2))
        if kind == "" and (name[0].isdigit() or name.startswith("-")):
            return True  # a keyframe selector (0%, from, to) or something unusual: keep
        if kind == "" and name.lower() in ("from", "to"):
            return True
        if not names.has(kind, name):
            return False
    return True


def _split_top(text, sep=","):
    """Split at `sep` outside brackets and strings."""
    parts, depth, start, i, quote = [], 0, 0, 0, None
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def _strip_comments(css):
    out, i, quote = [], 0, None
    while i < len(css):
        c = css[i]
        if quote:
            out.append(c)
            if c == "\\" and i + 1 < len(css):
                out.append(css[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
            out.append(c)
        elif css.startswith("/*", i):
            end = css.find("*/", i + 2)
            i = len(css) if end < 0 else end + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _blocks(css):
    """Top-level items of a stylesheet: ('statement', text) or ('block', prelude, body)."""
    items, i, n = [], 0, len(css)
    while i < n:
        start, quote, depth = i, None, 0
        while i < n:  # the prelude: up to '{' or ';' outside strings and brackets
            c = css[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = None
            elif c in "\"'":
                quote = c
            elif c in "([":
                depth += 1
            elif c in ")]":
                depth -= 1
            elif depth == 0 and c in "{;}":
                break
            i += 1
        prelude = css[start:i].strip()
        if i >= n or css[i] == "}":
            if prelude:
                items.append(("statement", prelude))
            i += 1
            continue
        if css[i] == ";":
            items.append(("statement", prelude + ";"))
            i += 1
            continue
        body_start, depth, quote = i + 1, 1, None
        i += 1
        while i < n and depth:
            c = css[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = None
            elif c in "\"'":
                quote = c
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
        items.append(("block", prelude, css[body_start:i - 1]))
    return items


def _prune(css, names):
    out = []
    for item in _blocks(css):
        if item[0] == "statement":
            out.append(item[1])
            continue
        _, prelude, body = item
        if prelude.startswith("@"):
            if prelude.lower().startswith(GROUPING_AT_RULES):
                inner = _prune(body, names)
                if inner.strip():
                    out.append(f"{prelude}{{{inner}}}")
            else:
                out.append(f"{prelude}{{{body}}}")
            continue
        kept = [s.strip() for s in _split_top(prelude) if may_match(s.strip(), names)]
        if kept:
            out.append(f"{','.join(kept)}{{{body}}}")
    return "\n".join(out)


def prune(css, names):
    """The stylesheet with the rules no page can match removed (comments dropped too)."""
    return _prune(_strip_comments(css), names) + "\n"
