"""Text helpers shared by the notes backend."""

from notes_core.text import extract_tags, slugify

__all__ = ["extract_tags", "slugify"]
