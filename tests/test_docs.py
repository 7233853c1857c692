"""The documentation stays true: API pages for every public name, the
HTML display's link to them, and the examples of the markdown pages."""

import doctest
import importlib
import re
import warnings
from pathlib import Path

import pytest

import skgd
import skgd.exceptions
import skgd.schedules
from skgd import GDClassifier, GDRegressor
from skgd._doc_link import DOC_URL

ROOT = Path(__file__).resolve().parents[1]
API_RST = ROOT / "docs" / "api.rst"
PUBLIC_MODULES = [skgd, skgd.schedules, skgd.exceptions]


def autosummary_pages():
    """{page path relative to the site root: (module, name)} for every
    entry of the autosummary tables of docs/api.rst, as Sphinx lays them
    out: ``<toctree>/<currentmodule>.<name>.html``."""
    pages = {}
    module = toctree = None
    in_table = False
    for line in API_RST.read_text().splitlines():
        if m := re.match(r"\.\. currentmodule:: (\S+)", line):
            module, in_table = m.group(1), False
        elif line.startswith(".. autosummary::"):
            in_table, toctree = True, None
        elif in_table and (m := re.match(r"\s+:toctree: (\S+)", line)):
            toctree = m.group(1).rstrip("/")
        elif in_table and (m := re.match(r"\s+:\w+:", line)):
            continue
        elif in_table and (m := re.match(r"\s+([A-Za-z_]\w*)\s*$", line)):
            assert toctree is not None, f"{m.group(1)} has no :toctree:"
            pages[f"{toctree}/{module}.{m.group(1)}.html"] = (module, m.group(1))
        elif in_table and line and not line[0].isspace():
            in_table = False
    return pages


def test_the_api_reference_lists_every_public_name():
    documented = {
        getattr(importlib.import_module(module), name)
        for module, name in autosummary_pages().values()
    }
    missing = [
        f"{module.__name__}.{name}"
        for module in PUBLIC_MODULES
        for name in module.__all__
        if getattr(module, name) not in documented
    ]
    assert not missing, f"add these to docs/api.rst: {missing}"


@pytest.mark.parametrize(
    "estimator",
    [
        GDRegressor(),
        GDClassifier(),
        *(getattr(skgd.schedules, name)() for name in skgd.schedules.__all__),
    ],
    ids=lambda est: type(est).__name__,
)
def test_html_display_links_to_the_api_page(estimator, monkeypatch):
    monkeypatch.delenv("SKGD_DOC_URL", raising=False)
    url = estimator._get_doc_link()
    assert url.startswith(DOC_URL)
    page = url[len(DOC_URL) :]
    pages = autosummary_pages()
    assert page in pages, f"{url} is not a page of the built site"
    module, name = pages[page]
    assert getattr(importlib.import_module(module), name) is type(estimator)
    # The "?" link of the notebook display is that URL.
    assert f'href="{url}"' in estimator._repr_html_()


def test_doc_link_root_can_point_at_a_local_build(monkeypatch):
    monkeypatch.setenv("SKGD_DOC_URL", "file:///tmp/skgd/docs/_build/html")
    assert GDRegressor()._get_doc_link() == (
        "file:///tmp/skgd/docs/_build/html/generated/skgd.GDRegressor.html"
    )


# --------------------------------------------------------------------------
# The markdown pages' examples run, and their output is checked
# --------------------------------------------------------------------------

MARKDOWN_PAGES = [
    "README.md",
    "docs/user_guide.md",
    "docs/index.md",
    "docs/defaults.md",
]
FENCE = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)


def python_blocks(text):
    return [body for lang, body in FENCE.findall(text) if lang == "python"]


@pytest.mark.parametrize("page", MARKDOWN_PAGES)
def test_markdown_examples_are_doctests(page):
    # A python block that is not in >>> form would run nowhere: every one
    # must be a doctest, so that its output is checked.
    blocks = python_blocks((ROOT / page).read_text())
    assert blocks, f"{page} has no python code block"
    plain = [b.splitlines()[0] for b in blocks if not b.lstrip().startswith(">>>")]
    assert not plain, f"{page}: python blocks not in >>> form: {plain}"


@pytest.mark.parametrize("page", MARKDOWN_PAGES)
def test_markdown_examples_run_and_print_what_they_say(page, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    text = "\n".join(python_blocks((ROOT / page).read_text()))
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, page, page, 0)
    assert test.examples, f"{page}: no examples found"
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    monkeypatch.chdir(ROOT)
    failures = []
    try:
        with warnings.catch_warnings():
            # The examples' own warnings (a diverging grid candidate) are
            # part of what they show.
            warnings.simplefilter("ignore")
            runner.run(test, out=failures.append)
    finally:
        plt.close("all")
    assert runner.failures == 0, "".join(failures)
