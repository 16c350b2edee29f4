"""Sphinx configuration: ``pip install -e ".[docs]"``, then
``sphinx-build -W -b html docs/source docs/_build/html``."""

import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parent
sys.path.insert(0, str(SOURCE))

import apigen  # noqa: E402  (docs/source/apigen.py: the API and gallery pages, written from the code)

apigen.write_pages(SOURCE)

project = "neurosim + ratenet"
author = "the neurosim and ratenet developers"
copyright = "2026, " + author
release = version = __import__("neurosim").__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
]
templates_path = ["_templates"]
exclude_patterns = ["_build"]
autosummary_generate = True
autosummary_ignore_module_all = False
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"          # the numpydoc sections say the types, with units and shapes
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
nitpicky = False
default_role = "py:obj"
intersphinx_mapping = {}            # the build never uses the network

html_theme = "furo"
html_title = f"neurosim + ratenet {release}"
html_static_path = []


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Skip members a class inherits from another library (scikit-learn's ``set_*_request``
    methods on the estimators): their docstrings refer to that library's own documentation."""
    module = getattr(obj, "__module__", None) or ""
    if module and not module.startswith(("neurosim", "ratenet")) and callable(obj):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
