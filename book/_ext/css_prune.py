"""Drop the style rules no page of the site can match (issue 17: the stylesheet blocks the first paint).

The theme's stylesheets are 590 kB (97 kB gzip-compressed), and Lighthouse finds 92% of them unused on
any page: most of Bootstrap, every Font Awesome icon, every sphinx-design component. A phone downloads
and parses all of it before it paints anything. This keeps a rule when one of its selectors may match
something the site has, in the way of PurgeCSS:

- the names the site has are the class names, ids and element names in every built page, and every word
  in the shipped scripts and the pages' inline scripts (a script may add a class such as `show` or
  `pst-squeeze` at run time, or build an element), so what a script can produce is kept; a script word
  ending in `-` is a prefix, since scripts build names such as Bootstrap's `bs-${NAME}-auto` (the
  tooltip's arrow);
- a selector is kept unless it needs a class, id or element name the site does not have; what is inside
  `:not()`, `:is()`, `:where()`, `:has()` and the like is not required (kept either way), and attribute
  selectors are not checked (the theme sets `data-theme` and the like at run time);
- at-rules that hold rules (`@media`, `@supports`, `@layer`, `@container`) are pruned inside and dropped
  when empty (an empty `@layer name {}` stays: it fixes the layers' order); every other at-rule
  (`@font-face`, `@keyframes`, `@import`, ...) is kept as it is;
- the text is split the way CSS Syntax Level 3 splits it (strings end at a newline, escapes, comments
  and unquoted `url()`s hide braces); a selector this does not read (a namespace, nesting's `&`) is kept.

Nothing is rewritten inside a kept rule, so what is kept is drawn exactly as before.
"""

import re

GROUPING_AT_RULES = ("@media", "@supports", "@layer", "@container", "@document", "@-moz-document")
WORD = re.compile(r"[A-Za-z0-9_-]+")
ATTR_VALUE = r"""\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))"""
CLASS_ATTR = re.compile(r"[\s<]class" + ATTR_VALUE, re.I)
ID_ATTR = re.compile(r"[\s<]id" + ATTR_VALUE, re.I)
TAG = re.compile(r"<([A-Za-z][A-Za-z0-9-]*)")
INLINE_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S | re.I)
MIN_PREFIX = 3  # a script word such as "bs-" is a prefix; "-" alone is not
# In a selector: the argument of a functional pseudo-class, e.g. :not(.a, .b) or :nth-child(2n of .x).
PSEUDO_ARGS = re.compile(r":[A-Za-z-]+\(")
ATTRIBUTE = re.compile(r"\[[^\]]*\]")
NAME = r"(?:[A-Za-z0-9_-]|[^\x00-\x7f]|\\[0-9a-fA-F]{1,6}[ \t\n\f]?|\\[^0-9a-fA-F\n])+"
SIMPLE = re.compile(r"([.#]?)(" + NAME + r")|::?" + NAME + r"|\*|[>+~\s,]+")


def _values(pattern, html):
    return ["".join(m) for m in pattern.findall(html)]


class Names:
    """What the site has: class names, ids and element names (lower case)."""

    def __init__(self):
        self.classes, self.ids, self.tags = set(), set(), set()
        self.words = set()  # from scripts: any of them may be a class, an id or an element name
        self.prefixes = ()

    def add_page(self, html):
        for value in _values(CLASS_ATTR, html):
            self.classes.update(value.split())
        self.ids.update(_values(ID_ATTR, html))
        self.tags.update(t.lower() for t in TAG.findall(html))
        for script in INLINE_SCRIPT.findall(html):
            self.add_script(script)

    def add_script(self, js):
        words = set(WORD.findall(js))
        self.words |= words
        self.prefixes = tuple(sorted(set(self.prefixes) | {
            w for w in words if w.endswith("-") and len(w) >= MIN_PREFIX and not w.startswith("-")}))

    def has(self, kind, name):
        if name in self.words:
            return True
        if kind == ".":
            return name in self.classes or name.startswith(self.prefixes)
        if kind == "#":
            return name in self.ids or name.startswith(self.prefixes)
        return name.lower() in self.tags or name.lower() in self.words


def _unescape(name):
    def char(m):
        code = m.group(1)
        return chr(int(code.rstrip(), 16)) if re.fullmatch(r"[0-9a-fA-F]{1,6}[ \t\n\f]?", code) else code

    return re.sub(r"\\([0-9a-fA-F]{1,6}[ \t\n\f]?|.)", char, name)


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
    needed, pos = [], 0
    while pos < len(plain):
        m = SIMPLE.match(plain, pos)
        if not m or m.end() == pos:
            return True  # something this reader does not know (a namespace |, nesting's &): keep the rule
        pos = m.end()
        if m.group(2) is not None:  # else a combinator, a pseudo-class or pseudo-element, or *
            needed.append((m.group(1), _unescape(m.group(2))))
    for kind, name in needed:
        if kind == "" and (name[0].isdigit() or name.startswith("-") or name.lower() in ("from", "to")):
            return True  # a keyframe selector (0%, from, to) or something unusual: keep
    return all(names.has(kind, name) for kind, name in needed)


# --- splitting the text as CSS does -------------------------------------------------------------

def _string_end(css, i):
    """Index after the string opened at css[i]: at its closing quote, or before an unescaped newline."""
    quote, j, n = css[i], i + 1, len(css)
    while j < n and css[j] != quote:
        if css[j] == "\n":
            return j
        j += 2 if css[j] == "\\" else 1
    return min(j + 1, n)


def _strip_comments(css):
    out, i, n = [], 0, len(css)
    while i < n:
        c = css[i]
        if c in "\"'":
            j = _string_end(css, i)
        elif c == "\\":
            j = min(i + 2, n)
        elif css.startswith("/*", i):
            end = css.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        else:
            j = i + 1
        out.append(css[i:j])
        i = j
    return "".join(out)


UNQUOTED_URL = re.compile(r"url\(\s*(?![\s\"'])", re.I)


def _mask(css):
    """`css` (without comments) with what is inside strings, escapes and unquoted url()s blanked out, the same
    length: the braces, brackets, commas and semicolons left are the stylesheet's structure."""
    out, i, n = list(css), 0, len(css)
    while i < n:
        c = css[i]
        if c in "\"'":
            j = _string_end(css, i)
            out[i + 1:j - 1] = "_" * max(j - 1 - (i + 1), 0)
            i = j
        elif c == "\\":
            out[i:i + 2] = "_" * len(out[i:i + 2])
            i += 2
        elif c in "uU" and (m := UNQUOTED_URL.match(css, i)) and (i == 0 or not re.match(r"[\w-]", css[i - 1])):
            end = css.find(")", m.end())
            end = n if end < 0 else end
            out[m.end():end] = "_" * (end - m.end())
            i = end
        else:
            i += 1
    return "".join(out)


def _split_top(text, mask, sep=","):
    """Split `text` at `sep` outside brackets (read on its mask)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(mask):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _blocks(css, mask):
    """Top-level items of a stylesheet: ('statement', text) or ('block', prelude, body, body's mask)."""
    items, i, n = [], 0, len(css)
    while i < n:
        start, depth = i, 0
        while i < n:  # the prelude: up to '{' or ';' outside brackets ('}' here is part of it, as in CSS)
            c = mask[i]
            if c in "([":
                depth += 1
            elif c in ")]":
                depth = max(depth - 1, 0)
            elif depth == 0 and c in "{;":
                break
            i += 1
        prelude = css[start:i].strip()
        if i >= n or mask[i] == ";":
            if prelude:
                items.append(("statement", prelude + (";" if i < n else "")))
            i += 1
            continue
        body_start, depth = i + 1, 1
        i += 1
        while i < n and depth:
            depth += {"{": 1, "}": -1}.get(mask[i], 0)
            i += 1
        end = i - 1 if depth == 0 else n
        items.append(("block", prelude, css[body_start:end], mask[body_start:end]))
    return items


def _prune(css, mask, names):
    out = []
    for item in _blocks(css, mask):
        if item[0] == "statement":
            out.append(item[1])
            continue
        _, prelude, body, body_mask = item
        if prelude.startswith("@"):
            if prelude.lower().startswith(GROUPING_AT_RULES):
                inner = _prune(body, body_mask, names)
                if inner.strip() or prelude.lower().startswith("@layer"):
                    out.append(f"{prelude}{{{inner}}}")
            else:
                out.append(f"{prelude}{{{body}}}")
            continue
        prelude_mask = _mask(prelude)
        kept = [s.strip() for s in _split_top(prelude, prelude_mask) if may_match(s.strip(), names)]
        if kept:
            out.append(f"{','.join(kept)}{{{body}}}")
    return "\n".join(out)


def prune(css, names):
    """The stylesheet with the rules no page can match removed (comments dropped too)."""
    css = _strip_comments(css)
    return _prune(css, _mask(css), names) + "\n"
