"""The package's rooms have walls: imports go one way, nothing imports in a circle, and commands
load only what they use. The layers contract itself is `.importlinter` (`make lint`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("ingest")


def _cycles(graph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(module: str) -> None:
        index[module] = low[module] = counter[0]
        counter[0] += 1
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                group.append(other)
                if other == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles(graph):
    # a package's __init__ that re-exports its own modules is not a cycle of stages
    cycles = [c for c in _cycles(graph) if not (c == ["ingest.web", "ingest.web.plugin"])]
    assert cycles == []


def test_stages_import_downward_only(graph):
    layers = [("ingest.cli",), ("ingest.web",), ("ingest.archive",), ("ingest.outputs",), ("ingest.importer",),
              ("ingest.catalogue",), ("ingest.media", "ingest.reference"),
              ("ingest.model", "ingest.text", "ingest.times", "ingest.errors")]
    illegal = graph.find_illegal_dependencies_for_layers(layers=[set(l) for l in layers], containers=set())
    assert [(d.importer, d.imported) for d in illegal] == []


def _loaded(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return {line.split(".")[0] for line in out.stdout.split()}


def _command_modules(*argv: str) -> set[str]:
    """The top-level modules a real `ingest` run loads (the command's own work included)."""
    code = ("import sys, runpy\nsys.argv = ['ingest', *%r]\n"
            "from ingest.cli import main\n"
            "try:\n    main.main(args=list(sys.argv[1:]), standalone_mode=False)\n"
            "except (SystemExit, Exception):\n    pass") % (list(argv),)
    return _loaded(code)


def test_accounts_load_no_image_or_web_code():
    loaded = _loaded("import ingest.catalogue.accounts")
    assert not loaded & {"PIL", "pillow_heif", "exifread", "datasette"}


def test_archivists_list_loads_no_image_code(tmp_path):
    loaded = _command_modules("--db", str(tmp_path / "g.db"), "archivists", "list")
    assert not loaded & {"PIL", "pillow_heif", "exifread", "datasette"}


def test_export_loads_no_datasette(tmp_path):
    loaded = _command_modules("--db", str(tmp_path / "g.db"), "export", "1", "--to", str(tmp_path))
    assert "datasette" not in loaded
    assert "PIL" in loaded  # it did reach the export code


def test_publish_loads_no_datasette(tmp_path):
    from ingest.catalogue.schema import connect
    connect(tmp_path / "g.db").conn.close()
    loaded = _command_modules("--db", str(tmp_path / "g.db"), "publish", str(tmp_path / "bundle"))
    assert "datasette" not in loaded
    assert (tmp_path / "bundle" / "manifest.json").is_file()  # it did run
