"""Links from the estimators' HTML display to their API pages.

In a notebook, scikit-learn draws an estimator as an HTML block with a
"?" link to its documentation.  scikit-learn builds that link from three
hooks of the estimator class: ``_doc_link_module`` (the link is shown only
for classes of that package), ``_doc_link_template`` (a format string) and
``_doc_link_url_param_generator`` (the values to format it with).  The
mixin below sets them so that the link leads to the page Sphinx's
autosummary writes for the class in skgd's documentation:
``<site>/generated/<public module>.<ClassName>.html``, where the public
module is the one users import the class from (``skgd`` for the
estimators, ``skgd.schedules`` for the schedules; see ``docs/api.rst``).

The site's root is ``DOC_URL``; the environment variable ``SKGD_DOC_URL``
replaces it, e.g. with ``file:///path/to/skgd/docs/_build/html/`` to browse
a local build made by ``make docs``.
"""

import itertools
import os

__all__ = ["DOC_URL", "DocLinkMixin", "api_page"]

DOC_URL = "https://skgd.readthedocs.io/en/latest/"

# Where autosummary puts the API pages, relative to the site's root (the
# ``:toctree:`` of the autosummary tables in docs/api.rst).
API_PAGE = "generated/{module}.{name}.html"


def public_module(cls):
    """The module users import ``cls`` from: its module's path up to the
    first private part (``skgd._regressor`` gives ``skgd``)."""
    parts = cls.__module__.split(".")
    return ".".join(itertools.takewhile(lambda part: not part.startswith("_"), parts))


def api_page(cls):
    """The path of the API page of ``cls``, relative to the site's root."""
    return API_PAGE.format(module=public_module(cls), name=cls.__name__)


def doc_root():
    """The documentation site's root URL, ending with a slash."""
    root = os.environ.get("SKGD_DOC_URL") or DOC_URL
    return root if root.endswith("/") else root + "/"


class DocLinkMixin:
    """Point scikit-learn's HTML display of an estimator at its API page."""

    _doc_link_module = "skgd"
    _doc_link_template = "{root}{page}"

    def _doc_link_url_param_generator(self):
        return {"root": doc_root(), "page": api_page(type(self))}
