"""Sphinx configuration for the pt-genret documentation.

Build with::

    pip install ".[docs]"
    sphinx-build -b html docs docs/_build/html
"""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))  # the repository root: import pt_genret from the source tree

project = "pt-genret"
author = "pt-genret contributors"
copyright = "pt-genret contributors"

try:
    from pt_genret import __version__ as release
except Exception:  # pragma: no cover - docs can still build without the package importable
    release = "0.1.0"
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
master_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "alabaster"
html_title = f"pt-genret {release}"
