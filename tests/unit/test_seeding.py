"""virtualenv's table of its seeding wheels' digests: found in the module's text, rewritten in place."""

import pytest

from patcher.disk.seeding import digest_span, rewrite_digest

OLD = "a" * 64
NEW = "b" * 64
MODULE = f'''# é, ünïcode before the table
BUNDLE_SUPPORT = {{"3.12": {{"pip": "pip-26.3-py3-none-any.whl"}}}}
BUNDLE_SHA256: Final[dict[str, str]] = {{
    "pip-26.3-py3-none-any.whl": "{OLD}",  # é
    'setuptools-84.2.1-py3-none-any.whl': '{"c" * 64}',
}}
'''


def test_only_the_wheels_digest_changes() -> None:
    new = rewrite_digest(MODULE, "pip-26.3-py3-none-any.whl", NEW)
    assert new == MODULE.replace(OLD, NEW)
    assert rewrite_digest(new, "pip-26.3-py3-none-any.whl", NEW) is None
    back = rewrite_digest(MODULE, "setuptools-84.2.1-py3-none-any.whl", NEW)
    assert back == MODULE.replace("c" * 64, NEW)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("BUNDLE_SHA256 = {", "does not parse"),
        ("X = 1\n", "has no BUNDLE_SHA256 dict literal"),
        (MODULE + "BUNDLE_SHA256 = dict(BUNDLE_SHA256)\n", "has no BUNDLE_SHA256 dict literal"),
        ('BUNDLE_SHA256 = {"other.whl": "' + OLD + '"}\n', "BUNDLE_SHA256 has no entry for pip-26.3-py3-none-any.whl"),
        ('BUNDLE_SHA256 = {"pip-26.3-py3-none-any.whl": "x"}\n', "is not a sha256 string"),
        ('BUNDLE_SHA256 = {"pip-26.3-py3-none-any.whl": "' + OLD[:32] + '" "' + OLD[32:] + '"}\n', "not a plain"),
    ],
)
def test_a_table_not_found_says_why(text: str, said: str) -> None:
    found = digest_span(text, "pip-26.3-py3-none-any.whl")
    assert isinstance(found, str) and said in found
    with pytest.raises(ValueError, match=said):
        rewrite_digest(text, "pip-26.3-py3-none-any.whl", NEW)
