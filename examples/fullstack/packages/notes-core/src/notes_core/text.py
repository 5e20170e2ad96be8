from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")
_TAG = re.compile(r"(?<![\w#])#([A-Za-z][\w-]{0,49})")


def slugify(title: str, max_length: int = 80) -> str:
    """ASCII, lower-case, hyphen-separated: "Héllo, World!" -> "hello-world"."""
    ascii_title = (
        unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    )
    slug = _NON_WORD.sub("-", ascii_title.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "untitled"


def extract_tags(text: str) -> list[str]:
    """The #tags in ``text``, lower-cased, unique, in order of appearance."""
    seen: dict[str, None] = {}
    for match in _TAG.finditer(text):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)
