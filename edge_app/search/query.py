"""The search-box grammar: weighted text and photo terms combined with ``+`` and ``-``.

Why a grammar at all: CLIP embeddings add up meaningfully ("beach" minus "people" finds
empty beaches), and "more like photo 123 but at night" is ``photo:123 + night``. Examples::

    red car on a beach            one text term (plain text needs no quotes)
    "beach" - "people"            beach, away from people
    2:dog + photo:123             dog twice as strongly as photo 123's embedding
    0.5:"red car" + sunset        weights apply to the term right after them
    text:"part 4711"              photos whose recognised text (OCR) contains "part 4711"
    text:"exit" + night           ... with that text, ranked by "night"
    sunset - text:sale            sunset photos without the text "sale"
    tag:dog + beach               photos tagged "dog" (a filter), ranked by "beach"
    tag:dog tag:"hot dog"         tags alone: photos with every tag, best tag score first
    person:"Ana" beach            photos where Ana's face was found, ranked by "beach"

Rules: ``+``/``-`` are operators only at the start or after whitespace, so ``t-shirt`` and
``black-and-white`` stay text. ``N:`` (a positive number and a colon) before a term is its
weight; quote text that itself starts like ``12:30``. A term ends at the next operator.
``text:`` terms (quoted phrase or one bare word) are filters, not vectors: see
`edge_app.search.text_search` for the rule.
``tag:NAME`` (or ``tag:"two words"``) is a filter, not a vector term: it may appear anywhere,
with or without ``+`` before it, never with ``-`` or a weight (see `edge_app.tags`).
``person:NAME`` (or ``person:"Ana Lima"``) is a filter by the same rules (see People).
Errors are `QueryError`s carrying the 0-based ``position`` and a plain explanation.

CJK input: text needs no spaces between words (``红色的圆形``); full-width and typographic
quotes, plus, minus and colon (``“红色” － “三角形”``, ``２：狗`` stays text, ``2：狗`` is a
weight) are read as their ASCII forms, one character for one, so positions still point
into what the user typed. The ideographic space counts as whitespace.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from edge_app.errors import QueryError

MAX_TERMS = 16
MAX_WEIGHT = 100.0
_WEIGHT = re.compile(r"(\d+(?:\.\d*)?|\.\d+):(?!\s)")
#: The largest SQLite INTEGER: a larger photo id cannot exist (and would overflow sqlite3).
MAX_PHOTO_ID = 2**63 - 1
_PHOTO = re.compile(r"photo:(\S*)", re.IGNORECASE)
_OCR = re.compile(r"text:", re.IGNORECASE)
_TAG = re.compile(r'(tag|person):(?:"([^"]*)"|([^\s"]*))', re.IGNORECASE)
# One character for one: error positions stay valid for the query as typed.
_FULL_WIDTH = str.maketrans(
    {"“": '"', "”": '"', "＂": '"', "「": '"', "」": '"', "＋": "+", "－": "-", "−": "-", "：": ":"}
)


class QuerySyntaxError(QueryError):
    """A query that does not parse; ``position`` is the 0-based character offset."""

    def __init__(self, message: str, position: int, query: str) -> None:
        pointer = f"{query}\n{' ' * position}^"
        super().__init__(f"{message} (at character {position + 1})\n{pointer}")
        self.position = position
        self.explanation = message


@dataclass(frozen=True)
class Term:
    """One term: ``text``, ``photo_id`` or ``ocr`` is set; ``weight`` is signed (``-`` negates)."""

    weight: float
    position: int
    text: str | None = None
    photo_id: int | None = None
    ocr: str | None = None  # text:"..." - a filter on the photo's recognised text

    def __str__(self) -> str:
        if self.ocr is not None:
            return f'text:"{self.ocr}"'
        body = f"photo:{self.photo_id}" if self.photo_id is not None else f'"{self.text}"'
        return f"{abs(self.weight):g}:{body}"


@dataclass(frozen=True)
class ParsedQuery:
    """The terms in query order; ``str()`` gives a canonical, re-parseable form."""

    source: str
    terms: tuple[Term, ...]
    tags: tuple[str, ...] = ()
    people: tuple[str, ...] = ()

    @property
    def texts(self) -> list[str]:
        return [t.text for t in self.terms if t.text is not None]

    @property
    def ocr_terms(self) -> list[Term]:
        return [t for t in self.terms if t.ocr is not None]

    @property
    def vector_terms(self) -> list[Term]:
        return [t for t in self.terms if t.ocr is None]

    @property
    def photo_ids(self) -> list[int]:
        return [t.photo_id for t in self.terms if t.photo_id is not None]

    def __str__(self) -> str:
        parts = []
        for i, term in enumerate(self.terms):
            sign = "-" if term.weight < 0 else "+"
            parts.append(f"{'' if i == 0 and sign == '+' else sign + ' '}{term}")
        parts.extend(f'tag:"{tag}"' for tag in self.tags)
        parts.extend(f'person:"{name}"' for name in self.people)
        return " ".join(parts)


def parse_query(query: str) -> ParsedQuery:
    """Parse ``query``; raises `QuerySyntaxError` (a `QueryError`) for bad syntax."""
    return _Parser(query.translate(_FULL_WIDTH)).parse()


class _Parser:
    """A one-pass scanner: sign, optional weight, one atom, repeat."""

    def __init__(self, query: str) -> None:
        self.src = query
        self.pos = 0

    def fail(self, message: str, position: int | None = None) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.pos if position is None else position, self.src)

    def parse(self) -> ParsedQuery:
        self.skip_space()
        if self.pos >= len(self.src):
            raise self.fail("the query is empty: type some words, or photo:<id>")
        terms: list[Term] = []
        filters: dict[str, list[str]] = {"tag": [], "person": []}
        sign = self.read_operator(first=True)
        while True:
            tag = self.read_tag(sign)
            if tag is not None:
                filters[tag[0]].append(tag[1])
            else:
                terms.append(self.read_term(sign))
            if len(terms) + sum(map(len, filters.values())) > MAX_TERMS:
                raise self.fail(f"too many terms (at most {MAX_TERMS})")
            self.skip_space()
            if self.pos >= len(self.src):
                tags, people = (tuple(dict.fromkeys(filters[k])) for k in ("tag", "person"))
                return ParsedQuery(self.src, tuple(terms), tags, people)
            sign = self.read_operator(first=False, tag_follows=tag is not None or self._tag_next())

    def skip_space(self) -> None:
        while self.pos < len(self.src) and self.src[self.pos].isspace():
            self.pos += 1

    def _tag_next(self) -> bool:
        return _TAG.match(self.src, self.pos) is not None

    def read_tag(self, sign: float) -> tuple[str, str] | None:
        """A ``tag:NAME`` / ``person:NAME`` filter at the cursor as (kind, name), else None."""
        match = _TAG.match(self.src, self.pos)
        if not match:
            return None
        kind = match.group(1).lower()
        if sign < 0:
            raise self.fail(f"{kind}: is a filter and cannot be subtracted; remove the '-'")
        name = " ".join((match.group(2) if match.group(2) is not None else match.group(3)).split())
        if not name:
            example = 'a tag name, like tag:dog or tag:"hot dog"'
            if kind == "person":
                example = 'a name, like person:Ana or person:"Ana Lima"'
            raise self.fail(f"{kind}: needs {example}")
        self.pos = match.end()
        return kind, name

    def read_operator(self, first: bool, tag_follows: bool = False) -> float:
        char = self.src[self.pos] if self.pos < len(self.src) else ""
        if tag_follows and char not in "+-":
            return 1.0  # "tag:dog beach" and "beach tag:dog" need no "+"
        if char in "+-":
            self.pos += 1
            self.skip_space()
            if self.pos >= len(self.src):
                raise self.fail(f"expected a term after '{char}'", self.pos - 1)
            return -1.0 if char == "-" else 1.0
        if first:
            return 1.0
        raise self.fail("expected '+' or '-' between terms")

    def read_term(self, sign: float) -> Term:
        start = self.pos
        if _OCR.match(self.src, self.pos):
            return Term(sign, start, ocr=self.read_ocr())
        weight = self.read_weight()
        if self.src.startswith('"', self.pos):
            return Term(sign * weight, start, text=self.read_quoted())
        match = _PHOTO.match(self.src, self.pos)
        if match:
            self.pos = match.end()
            return Term(
                sign * weight, start, photo_id=self.photo_id(match.group(1), match.start(1))
            )
        return Term(sign * weight, start, text=self.read_bare())

    def read_ocr(self) -> str:
        """After ``text:``: a quoted phrase or one bare word (no weight: it is a filter)."""
        self.pos += len("text:")
        if self.src.startswith('"', self.pos):
            return self.read_quoted()
        end = self.pos
        while end < len(self.src) and not self.src[end].isspace() and self.src[end] != '"':
            end += 1
        if end == self.pos:
            raise self.fail('text: needs words, like text:"part 4711" or text:exit')
        word, self.pos = self.src[self.pos : end], end
        return word

    def read_weight(self) -> float:
        match = _WEIGHT.match(self.src, self.pos)
        if not match:
            return 1.0
        after = _TAG.match(self.src, match.end())
        if after:
            raise self.fail(f"{after.group(1).lower()}: is a filter and takes no weight; remove the number")
        value = float(match.group(1))
        if not (0.0 < value <= MAX_WEIGHT) or not math.isfinite(value):
            raise self.fail(
                f"a weight must be above 0 and at most {MAX_WEIGHT:g}, got {match.group(1)}"
            )
        self.pos = match.end()
        if self.pos >= len(self.src):
            raise self.fail(f"expected a term after the weight '{match.group(0)}'")
        return value

    def read_quoted(self) -> str:
        open_at = self.pos
        close = self.src.find('"', open_at + 1)
        if close < 0:
            raise self.fail('unterminated quote: add the closing "', open_at)
        text = self.src[open_at + 1 : close].strip()
        if not text:
            raise self.fail("empty quotes: put some words between them", open_at)
        self.pos = close + 1
        return text

    def read_bare(self) -> str:
        """Text up to the next operator (a +/- after whitespace); quotes are not allowed."""
        start = self.pos
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if char == '"':
                raise self.fail("a quote inside plain text: put '+' or '-' before quoted terms")
            after_space = self.src[self.pos - 1].isspace()
            if after_space and (char in "+-" or _TAG.match(self.src, self.pos)):
                break
            self.pos += 1
        text = " ".join(self.src[start : self.pos].split())
        if not text:
            raise self.fail("expected a term", start)
        return text

    def photo_id(self, raw: str, at: int) -> int:
        # isascii: "²".isdigit() is true but int() refuses it; SQLite ids are 64-bit.
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_PHOTO_ID:
            raise self.fail(f"photo: needs a photo number, like photo:123 (got {raw!r})", at)
        return int(raw)
