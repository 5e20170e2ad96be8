from notes_core import extract_tags, slugify


def test_slugify_strips_accents_and_punctuation() -> None:
    assert slugify("Héllo, World!") == "hello-world"


def test_slugify_never_returns_empty() -> None:
    assert slugify("!!!") == "untitled"


def test_slugify_truncates_without_trailing_hyphen() -> None:
    assert slugify("ab " * 40, max_length=5) == "ab-ab"


def test_extract_tags_is_ordered_unique_and_lower_case() -> None:
    assert extract_tags("#Work notes #todo and #work again") == ["work", "todo"]


def test_extract_tags_ignores_anchors_inside_words() -> None:
    assert extract_tags("issue#12 and ##double") == []
