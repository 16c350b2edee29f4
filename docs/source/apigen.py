"""Write the API reference and the gallery of the documentation from the code itself.

The reference lists every name of ``neurosim.__all__`` and ``ratenet.__all__`` (and of the optional
bridges ``ratenet.sklearn``, ``neurosim.neo``, ``neurosim.nir`` and ``neurosim.nest``), grouped by
the module that defines it, so a name added to a package's ``__all__`` appears in the documentation
without editing it. The gallery has one page per script in ``examples/``: its docstring, the figures
it wrote (committed under ``docs/gallery/<script>/``, the main demo's under ``docs/demo/``) and its
source.

``conf.py`` calls :func:`write_pages` at the start of every build; the pages it writes are not
committed (see ``.gitignore``). This module needs no Sphinx, so the tests can check what it writes.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import types
from pathlib import Path

SOURCE = Path(__file__).resolve().parent
ROOT = SOURCE.parents[1]
EXAMPLES = ROOT / "examples"
PACKAGES = ("neurosim", "ratenet")
#: Optional modules documented on the bridges page, with the extra that installs what they need.
BRIDGES = {"ratenet.sklearn": "sklearn", "neurosim.neo": "neo", "neurosim.nir": "nir",
           "neurosim.nest": "nest"}
#: Where each example's committed figures are (relative to the repository); default docs/gallery/<name>.
FIGURE_FOLDERS = {"compare_lif_sigmoid": "docs/demo"}
#: The order of the gallery: the main demo first, then the neurons, then the rate networks.
GALLERY_ORDER = ("compare_lif_sigmoid", "hh_spikes", "lif_rate_curve", "psc_filtering", "activations",
                 "vanishing_gradients", "weight_decay", "augmentation", "model_selection", "pretraining")


def _heading(text: str, character: str) -> list[str]:
    return [text, character * len(text), ""]


def _summary(obj: object) -> str:
    """The first sentence of an object's docstring, on one line."""
    doc = inspect.getdoc(obj) or ""
    paragraph = doc.split("\n\n")[0].replace("\n", " ").strip()
    return paragraph.split(". ")[0].rstrip(".:")


def _short(sentence: str) -> str:
    """A heading from a summary sentence: the words before its first colon or comma."""
    cuts = [index for index in (sentence.find(": "), sentence.find(", ")) if index > 0]
    return sentence[:min(cuts)] if cuts else sentence


def _autosummary(names: list[str]) -> list[str]:
    return [".. autosummary::", "   :toctree: generated", "   :nosignatures:", "",
            *(f"   {name}" for name in names), ""]


def _public_names(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name, obj in vars(module).items() if not name.startswith("_")
                 and getattr(obj, "__module__", None) == module.__name__]
    return list(names)


def module_page(module_name: str, title: str | None = None) -> str:
    """An API page for one module: every public name, grouped by the module that defines it."""
    module = importlib.import_module(module_name)
    groups: dict[str, list[str]] = {}
    submodules: list[str] = []
    for name in _public_names(module):
        obj = getattr(module, name)
        if isinstance(obj, types.ModuleType):
            submodules.append(name)
        else:
            groups.setdefault(getattr(obj, "__module__", None) or module_name, []).append(name)
    lines = [f".. _api-{module_name}:", "", *_heading(title or f"``{module_name}``", "="),
             f".. currentmodule:: {module_name}", "", f".. automodule:: {module_name}",
             "   :no-members:", "   :no-index:", ""]
    for home in sorted(groups):
        heading = _short(_summary(importlib.import_module(home))) or home
        lines += [*_heading(heading, "-"), f"Defined in ``{home}``.", "", *_autosummary(sorted(groups[home]))]
    for name in submodules:
        submodule = getattr(module, name)
        lines += [*_heading(f"``{module_name}.{name}``: {_summary(submodule)}", "-"),
                  *_autosummary([f"{name}.{member}" for member in sorted(_public_names(submodule))])]
    return "\n".join(lines)


def bridges_page() -> str:
    lines = [".. _api-bridges:", "", *_heading("Bridges to other tools (optional extras)", "="),
             "Each bridge imports its library only when used; install it with the extra named below.", ""]
    for module_name, extra in BRIDGES.items():
        body = module_page(module_name).split("\n")
        # One level down: the module's title becomes a section of this page.
        body = [line.replace("=", "-") if set(line) == {"="} else
                line.replace("-", "~") if line and set(line) == {"-"} else line for line in body]
        lines += body + ["", f"Install: ``pip install \"neurosim-ratenet[{extra}]\"``.", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- gallery

def examples() -> list[str]:
    """The example scripts, in gallery order (any not listed in GALLERY_ORDER come last)."""
    names = sorted(path.stem for path in EXAMPLES.glob("*.py"))
    return sorted(names, key=lambda name: (GALLERY_ORDER.index(name) if name in GALLERY_ORDER
                                           else len(GALLERY_ORDER), name))


def figure_folder(example: str) -> Path:
    return ROOT / FIGURE_FOLDERS.get(example, f"docs/gallery/{example}")


def figures(example: str) -> list[Path]:
    """The committed figures of an example, in the order its docstring (or, for the demo, its
    ``summary.md``) names them."""
    folder = figure_folder(example)
    found = sorted(folder.glob("*.png"))
    text = example_docstring(example)
    if (folder / "summary.md").is_file():
        text = (folder / "summary.md").read_text(encoding="utf-8")
    return sorted(found, key=lambda path: (text.find(path.name) if path.name in text else len(text),
                                           path.name))


def example_docstring(example: str) -> str:
    tree = ast.parse((EXAMPLES / f"{example}.py").read_text(encoding="utf-8"))
    return ast.get_docstring(tree) or example


def example_page(example: str) -> str:
    lines = [f".. _gallery-{example}:", "", *_heading(f"{example}.py", "="), example_docstring(example), ""]
    for path in figures(example):
        relative = Path("..", "..", "..", path.relative_to(ROOT)).as_posix()
        lines += [f".. figure:: {relative}", "   :width: 100%", "", f"   ``{path.name}``", ""]
    lines += [*_heading("Source", "-"), f"``examples/{example}.py``", "",
              f".. literalinclude:: ../../../examples/{example}.py", "   :language: python", ""]
    if example == "compare_lif_sigmoid":
        for module in sorted((EXAMPLES / "demo").glob("*.py")):
            lines += [f"``examples/demo/{module.name}``", "",
                      f".. literalinclude:: ../../../examples/demo/{module.name}", "   :language: python", ""]
    return "\n".join(lines)


def gallery_index() -> str:
    lines = [".. _gallery:", "", *_heading("Gallery", "="),
             "Every script in ``examples/`` takes an output folder, writes its figures there and has a "
             "``--quick`` form (seconds, for the tests). The figures below are from the full runs, "
             "committed with the code.", "",
             ".. toctree::", "   :hidden:", "", *(f"   {name}" for name in examples()), ""]
    for name in examples():
        lead = example_docstring(name).split("\n\n")[0].replace("\n", " ")
        lines += [*_heading(f":doc:`{name}`", "-"), lead, ""]
        shown = figures(name)[:1]
        for path in shown:
            relative = Path("..", "..", "..", path.relative_to(ROOT)).as_posix()
            lines += [f".. image:: {relative}", "   :width: 60%", f"   :alt: {path.stem}", ""]
    return "\n".join(lines)


def pages() -> dict[str, str]:
    """Every generated page: its path relative to the Sphinx source folder, and its text."""
    result = {f"api/{package}.rst": module_page(package) for package in PACKAGES}
    result["api/bridges.rst"] = bridges_page()
    result["gallery/index.rst"] = gallery_index()
    result.update({f"gallery/{name}.rst": example_page(name) for name in examples()})
    return result


def write_pages(source: Path = SOURCE) -> list[Path]:
    """Write :func:`pages` under ``source`` (only files whose text changed are rewritten)."""
    written = []
    for relative, text in pages().items():
        path = source / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
