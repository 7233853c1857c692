"""Sphinx configuration of the skgd documentation.

Build it with ``make docs`` (the HTML lands in ``docs/_build/html``).  Every
page comes from this repository: the API reference from the docstrings
(autosummary and numpydoc), the guides from the markdown files beside this
one (MyST), and the gallery from the scripts in ``docs/gallery``, which
sphinx-gallery runs at build time.  Nothing is fetched from the network
(no intersphinx), so the build works offline.
"""

import os
import re
import shutil
import warnings
from pathlib import Path

import mathjax

import skgd

# Gallery scripts draw with matplotlib; no display is needed.
os.environ.setdefault("MPLBACKEND", "Agg")

project = "skgd"
author = "the skgd developers"
copyright = "the skgd developers"
version = skgd.__version__
release = skgd.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "gallery",
    "examples",
    "Thumbs.db",
    ".DS_Store",
]
default_role = "literal"

# -- API reference -------------------------------------------------------
# One page per public name under generated/ (the layout the estimators'
# HTML display links to, see skgd/_doc_link.py).
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False


def _join_continued_lines(lines):
    """Join docstring lines that end in a backslash with the next one.

    Raw docstrings (those with math) keep the backslash that splits a long
    parameter type over two lines, where plain docstrings have Python join
    them; numpydoc needs the type on one line.
    """
    i = 0
    while i < len(lines) - 1:
        if lines[i].endswith("\\") and not lines[i].endswith("\\\\"):
            lines[i] = lines[i][:-1].rstrip() + " " + lines.pop(i + 1).strip()
        else:
            i += 1


# Cross-references of scikit-learn's own docstrings (the methods skgd's
# estimators inherit) point into scikit-learn's site, which this offline
# build does not know: render them as plain text.
_SKLEARN_REF = re.compile(
    r":(?:ref|term|func|class|meth|mod|attr):`([^`<]*?)(?:\s*<[^>]*>)?`"
)


def _process_docstring(app, what, name, obj, options, lines):
    _join_continued_lines(lines)
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("sklearn"):
        lines[:] = [
            _SKLEARN_REF.sub(lambda m: f"``{m.group(1).strip('~')}``", line)
            for line in lines
        ]


# MathJax ships with the site (the django-static-mathjax package holds its
# files), so the formulas render offline and nothing is loaded from the web.
_MATHJAX = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
mathjax_path = "mathjax/tex-chtml.js"


def _copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        shutil.copytree(_MATHJAX, target, dirs_exist_ok=True)


def setup(app):
    # Before numpydoc parses the docstring (numpydoc uses priority 500).
    app.connect("autodoc-process-docstring", _process_docstring, priority=100)
    app.connect("build-finished", _copy_mathjax)


# -- Markdown pages (MyST) -------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
# Slugs for the "#the-objective" style links of the markdown pages.
myst_heading_anchors = 3

# -- Gallery ---------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "show_memory": False,
    "reset_modules": ("matplotlib", "seaborn"),
    # Links from the API pages to the examples that use each name.
    "doc_module": ("skgd",),
    "backreferences_dir": "generated",
    "reference_url": {"skgd": None},
}

# The gallery trains models with deliberately bad settings; their warnings
# are part of what the examples show, not build problems.
warnings.filterwarnings("ignore", category=UserWarning, message="Matplotlib")

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skgd {release}"
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "secondary_sidebar_items": ["page-toc"],
    "show_toc_level": 2,
}
html_static_path = []
html_show_sourcelink = False
