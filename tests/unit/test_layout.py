"""The house a newcomer walks (issue #21): the package grouped by job, read from its source.

A handful of modules at the top (what every part shares), no import cycle between modules,
no module importing another's private name, package ``__init__`` files that import nothing of
the tool (so that ``locate`` imports only what it needs), and docs that map every module and
document every command from the command line's own parser.
"""

from __future__ import annotations

import ast
import configparser
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "patcher"
#: run inside another interpreter (2.7 to 3.x), never imported by the tool
CHILD_SCRIPTS = {"patcher.verification.probe_child", "patcher.bytecode.compile_child"}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def module_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports run when the module is imported (not those under ``if TYPE_CHECKING:``)."""
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.Try):
            yield from (n for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom)))


def project_imports(path: Path) -> set[str]:
    """The tool's modules ``path`` imports at module level."""
    known, found = modules(), set()
    for node in module_level_imports(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("patcher"):
            for alias in node.names:
                whole = f"{node.module}.{alias.name}"
                found.add(whole if whole in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("patcher"))
    return found


def test_a_handful_of_modules_at_the_top() -> None:
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(top) <= 12, top
    packages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert packages == [
        "bytecode",
        "commands",
        "disk",
        "engine",
        "envlock",
        "handoff",
        "releases",
        "scan",
        "verification",
    ]


def test_setup_cfg_ships_every_package() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    listed = set(config.get("options", "packages").split())
    on_disk = {name for name, path in modules().items() if path.name == "__init__.py"}
    assert listed == on_disk | {"patcher.patches"}


def test_no_import_cycle() -> None:
    graph = {name: project_imports(path) - {name} for name, path in modules().items()}
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(name) :], name]))
        if name in done:
            return
        for imported in sorted(graph.get(name, ())):
            visit(imported, [*stack, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_no_module_imports_another_modules_private_name() -> None:
    private = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("patcher"):
                private += [
                    f"{name}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert private == []


def test_package_init_files_import_nothing_of_the_tool() -> None:
    for name, path in modules().items():
        if path.name == "__init__.py":
            assert project_imports(path) == set(), name


def test_each_package_docstring_names_its_modules() -> None:
    """A package's docstring is its map: every module in it is named (``commands`` has a module
    per command, named by the command table instead)."""
    for init in PACKAGE.glob("*/__init__.py"):
        if init.parent.name == "commands":
            continue
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        missing = [
            p.name
            for p in init.parent.glob("*.py")
            if p.name != "__init__.py" and f":mod:`.{p.stem}`" not in doc and f"``{p.name}``" not in doc
        ]
        assert missing == [], f"{init.parent.name}: {missing}"


def test_the_docs_map_every_module() -> None:
    page = (ROOT / "docs" / "reference" / "development.rst").read_text()
    mapped = set(re.findall(r"^   (patcher[\w.]*)$", page, re.M))
    expected = set(modules()) - CHILD_SCRIPTS - {"patcher", "patcher.__main__"}
    assert sorted(expected - mapped) == [], "modules missing from the map of the code"
    assert sorted(mapped - expected) == [], "the map names modules that do not exist"
    for script in CHILD_SCRIPTS:
        assert f"``{script.rsplit('.', 1)[1]}.py``" in page


def test_every_command_has_a_reference_page_made_from_its_parser() -> None:
    from patcher.commands.table import COMMANDS

    pages = ROOT / "docs" / "reference" / "commands"
    index = (pages / "index.rst").read_text()
    for name in COMMANDS:
        page = (pages / f"{name}.rst").read_text()
        assert f"   :path: {name}\n" in page and ".. argparse::" in page, name
        assert f"\n   {name}\n" in index, name


def test_the_readme_is_a_landing_page() -> None:
    readme = (ROOT / "README.rst").read_text()
    assert len(readme.splitlines()) <= 250
    for command in (
        "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/pkgres-patcher locate",
        "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/python -m pytest tests",
    ):
        assert f"\n    {command}\n" in readme


def test_news_fragments_are_named_for_towncrier() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    types = set(re.findall(r'^directory = "(\w+)"$', pyproject.split("[tool.towncrier]")[1], re.M))
    assert types == {"feature", "bugfix", "doc", "internal"}
    fragments = [p.name for p in (ROOT / "news").iterdir()]
    assert fragments
    wrong = [
        n for n in fragments if not re.fullmatch(r"(\d+|\+[\w-]+)\.(\w+)\.rst", n) or n.split(".")[-2] not in types
    ]
    assert wrong == []
