"""Checks on the interview sheets (English pages and their Chinese translations).

A sheet is a Markdown page of questions. Each question is a bold line `**Qk. ...**` followed by an
answer in a `<details>` block that ends with one or more links to the sections that compute it:

    **Q12. Why is decoding memory-bound?**

    <details><summary>Answer</summary>

    The short answer, at most about 60 words.

    *Why.* A few lines.

    → [Chapter 10, The roofline](../chapters/10_ffn_at_scale.ipynb#the-roofline)

    </details>

Two checks, each a function returning a list of readable problems (empty: the check passes):
- `number_problems(page)`: every number quoted in an answer appears in the stored outputs or the source
  of a notebook the answer links to (or in the page the answer links to, for links to Markdown pages).
- `sync_problems(english, chinese)`: a translation has the same question ids in the same order, and each
  question has the same link targets and the same numbers as the original.
"""

import json
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The English sheets and, for each, its Chinese translation.
SHEETS = {
    "book/interview_ffn.md": "book/zh/interview_ffn.md",
    "book/interview_foundations.md": "book/zh/interview_foundations.md",
}

QUESTION = re.compile(r"^\*\*Q(\d+)\.\s", re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A number: digits with optional thousands separators (1,050,624 or 1_050_624), decimals and an
# exponent (1e-12). A sign is not part of it: "-0.9" and "−0.9" both quote 0.9.
NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:[,_]\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])")
# Text that is not a quoted number: link targets, HTML tags, question ids, references to the course's
# own chapters, figures, exercises, questions and equations, and citations' years.
NOT_QUOTED = [
    re.compile(r"\]\([^)]*\)"),                     # link targets
    re.compile(r"<[^>]+>"),                          # HTML tags
    re.compile(r"\{cite:[tp]\}`[^`]*`"),            # citation keys
    re.compile(r"\b(?:[Cc]hapters?|[Ss]ections?|Figures?|Fig\.|Exercises?|Q|Table|Eq\.|eq\.)\s*\d+(?:\.\d+)*(?:\s*(?:-|–|and|,|to)\s*\d+(?:\.\d+)*)*"),
    re.compile(r"第\s*\d+\s*[章节]|图\s*\d+(?:\.\d+)*|练习\s*\d+(?:\.\d+)*|问题\s*\d+"),
    re.compile(r"\b(?:19|20)\d\d[a-z]?\b"),          # years (of papers and models)
]


def read(path):
    return Path(path).read_text(encoding="utf-8")


def questions(text):
    """{id: the question and its answer} in page order (a dict keeps insertion order)."""
    starts = list(QUESTION.finditer(text))
    found = {}
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        body = text[m.start():end]
        # a heading after the last answer belongs to the page, not to the question
        body = re.split(r"^#{1,3} ", body, flags=re.M)[0]
        found[int(m.group(1))] = body
    return found


def links(body):
    return LINK.findall(body)


def normalise_number(token):
    token = token.replace(",", "").replace("_", "")
    if "." in token and "e" not in token.lower():
        token = token.rstrip("0").rstrip(".") or "0"
    return token


def quoted_numbers(body):
    """The numbers an answer quotes, normalised (1,050,624 -> 1050624; 0.50 -> 0.5)."""
    text = body
    for pattern in NOT_QUOTED:
        text = pattern.sub(" ", text)
    text = text.replace("\\,", "").replace("{,}", "")  # LaTeX thousands spacing: 2\,099\,712
    return [normalise_number(t) for t in NUMBER.findall(text)]


def notebook_text(path):
    """Sources and stored text outputs of a notebook, as one string."""
    nb = json.loads(read(path))
    parts = []
    for cell in nb.get("cells", []):
        src = cell.get("source", "")
        parts.append("".join(src) if isinstance(src, list) else src)
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")))
            for mime in ("text/plain", "text/markdown", "text/html"):
                value = out.get("data", {}).get(mime, "")
                parts.append("".join(value) if isinstance(value, list) else value)
    return "\n".join(parts)


def numbers_in(text):
    """Every number a text prints; 4.73e-04 also counts as 4.73 and 4 (quoted as $4.73 \\times 10^{-4}$)."""
    text = text.replace("\\,", "").replace("{,}", "")
    found = set()
    for token in NUMBER.findall(text):
        found.add(normalise_number(token))
        if "e" in token.lower():
            mantissa, exponent = re.split(r"[eE]", token)
            found.add(normalise_number(mantissa))
            found.add(str(abs(int(exponent))))
    return found


def link_target(page, target):
    """The repository path a relative link from `page` points to (None for external links)."""
    if re.match(r"^[a-z]+://", target) or target.startswith(("mailto:", "#")):
        return None
    file_part = target.split("#", 1)[0]
    resolved = (ROOT / page).parent.joinpath(file_part).resolve()
    try:
        return resolved.relative_to(ROOT).as_posix()
    except ValueError:
        return file_part


def resolved_link(page, target):
    """A link as the repository path it reaches plus its anchor, comparable across folders."""
    path = link_target(page, target)
    if path is None:
        return target
    anchor = target.split("#", 1)[1] if "#" in target else ""
    return f"{path}#{anchor}" if anchor else path


def number_problems(page, root=ROOT):
    """Each number an answer quotes appears in a notebook (or page) the answer links to."""
    problems = []
    cache = {}
    for qid, body in questions(read(Path(root) / page)).items():
        targets = [t for t in (link_target(page, x) for x in links(body)) if t]
        sources = [t for t in targets if t.endswith((".ipynb", ".md"))]
        if not sources:
            problems.append(f"{page} Q{qid}: the answer links to no chapter section that computes it")
            continue
        known = set()
        for target in sources:
            if target not in cache:
                path = Path(root) / target
                if not path.is_file():
                    cache[target] = None
                else:
                    text = notebook_text(path) if target.endswith(".ipynb") else read(path)
                    cache[target] = numbers_in(text)
            if cache[target] is None:
                problems.append(f"{page} Q{qid}: links to {target}, which does not exist")
            else:
                known |= cache[target]
        missing = sorted({n for n in quoted_numbers(body) if n not in known})
        if missing:
            problems.append(f"{page} Q{qid}: quotes {', '.join(missing)}, which the linked "
                            f"section(s) {', '.join(sources)} never print or compute")
    return problems


def sync_problems(english_page, chinese_page, root=ROOT):
    """The translation has the same questions, in order, with the same links and numbers."""
    en = questions(read(Path(root) / english_page))
    zh = questions(read(Path(root) / chinese_page))
    problems = []
    if list(en) != list(zh):
        problems.append(f"{chinese_page}: question ids {list(zh)} differ from {english_page}'s {list(en)}")
    for qid in en.keys() & zh.keys():
        en_links = [resolved_link(english_page, t) for t in links(en[qid])]
        zh_links = [resolved_link(chinese_page, t) for t in links(zh[qid])]
        if en_links != zh_links:
            problems.append(f"{chinese_page} Q{qid}: links {zh_links} differ from the English {en_links}")
        en_numbers, zh_numbers = Counter(quoted_numbers(en[qid])), Counter(quoted_numbers(zh[qid]))
        if en_numbers != zh_numbers:
            only_en = sorted((en_numbers - zh_numbers).elements())
            only_zh = sorted((zh_numbers - en_numbers).elements())
            problems.append(f"{chinese_page} Q{qid}: numbers differ (only in English: {only_en}; "
                            f"only in Chinese: {only_zh})")
    return problems
