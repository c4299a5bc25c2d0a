"""Sphinx configuration: the HTML site (furo) and the man page ``pkgres-patcher.1``."""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "_ext"), os.path.dirname(HERE)]

from patcher import __version__  # noqa: E402

project = "pkgres-patcher"
author = "the pkgres-patcher developers"
copyright = "the pkgres-patcher developers"  # noqa: A001
version = release = __version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinxarg.ext", "sphinxcontrib.towncrier.ext"]

# the changelog page shows the fragments in news/ not released yet (as pip's docs do)
towncrier_draft_autoversion_mode = "draft"
towncrier_draft_include_empty = True
towncrier_draft_working_directory = os.path.dirname(HERE)
autosummary_generate = False
autodoc_typehints = "description"
exclude_patterns = ["_build"]
nitpicky = False

html_theme = "furo"
html_title = f"pkgres-patcher {release}"

man_pages = [
    (
        "man/pkgres-patcher",
        "pkgres-patcher",
        "patch every copy of pkg_resources so that vanishing distributions are treated as absent",
        [author],
        1,
    )
]
man_show_urls = False
