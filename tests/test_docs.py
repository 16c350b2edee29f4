"""The documentation's API reference names every public name of both packages, and its gallery shows
every example with committed figures. Checked on the reStructuredText that ``docs/source/apigen.py``
writes for Sphinx (Sphinx itself is not needed here; CI builds the site with ``sphinx-build -W``)."""

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

import neurosim
import ratenet

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "docs" / "source"


def _load_apigen():
    spec = importlib.util.spec_from_file_location("apigen", SOURCE / "apigen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


apigen = _load_apigen()


def _documented(rst: str) -> set[str]:
    """Fully qualified names listed in the autosummary tables of a page (after its currentmodule)."""
    current = re.search(r"^\.\. currentmodule:: (\S+)", rst, re.MULTILINE).group(1)
    names = set()
    for block in re.findall(r"^\.\. autosummary::\n((?:   .*\n|\n)+)", rst + "\n", re.MULTILINE):
        for line in block.splitlines():
            entry = line.strip()
            if entry and not entry.startswith(":"):
                names.add(f"{current}.{entry}")
    return names


@pytest.mark.parametrize("package", [neurosim, ratenet])
def test_every_public_name_is_in_the_api_reference(package):
    rst = apigen.pages()[f"api/{package.__name__}.rst"]
    documented = _documented(rst)
    expected = set()
    for name in package.__all__:
        obj = getattr(package, name)
        if hasattr(obj, "__all__") and obj.__name__ == f"{package.__name__}.{name}":    # a submodule
            expected |= {f"{package.__name__}.{name}.{member}" for member in obj.__all__}
        else:
            expected.add(f"{package.__name__}.{name}")
    assert expected - documented == set()
    assert documented - expected == set()         # and nothing that is not public


def test_the_bridges_are_in_the_reference():
    rst = apigen.pages()["api/bridges.rst"]
    for module_name in ("ratenet.sklearn", "neurosim.neo", "neurosim.nir", "neurosim.nest"):
        module = importlib.import_module(module_name)
        for name in module.__all__:
            assert re.search(rf"^   {name}$", rst, re.MULTILINE), f"{module_name}.{name}"


def test_the_reference_pages_are_in_the_table_of_contents():
    api_index = (SOURCE / "api" / "index.rst").read_text(encoding="utf-8")
    for page in ("neurosim", "ratenet", "bridges"):
        assert re.search(rf"^   {page}$", api_index, re.MULTILINE)
    index = (SOURCE / "index.rst").read_text(encoding="utf-8")
    assert "api/index" in index and "gallery/index" in index


def test_the_gallery_shows_every_example_with_its_committed_figures():
    pages = apigen.pages()
    scripts = sorted(path.stem for path in (ROOT / "examples").glob("*.py"))
    assert sorted(apigen.examples()) == scripts
    for script in scripts:
        page = pages[f"gallery/{script}.rst"]
        assert f"literalinclude:: ../../../examples/{script}.py" in page
        shown = re.findall(r"^\.\. figure:: (\S+)", page, re.MULTILINE)
        assert shown, f"examples/{script}.py has no committed figures under {apigen.figure_folder(script)}"
        for relative in shown:
            assert (SOURCE / "gallery" / relative).resolve().is_file(), relative
        assert f":doc:`{script}`" in pages["gallery/index.rst"]
