"""The layer rule, as a test: index ← rag ← ui, faces apart, no import cycle.

- ``index/`` imports nothing of ``rag/`` or ``ui/``; ``rag/`` nothing of ``ui/``.
- The faces (``ui/api.py``, ``ui/chat.py``, ``ui/cli.py``) never import one another, and reach the
  answering library only through its public modules (``rag``, ``rag.settings``, ``rag.errors``,
  ``rag.evaluation``).
- No cycle among the project's modules, counting imports inside functions too (only blocks under
  ``if TYPE_CHECKING:`` are skipped: they never run).

The checker runs on the real tree and, to show it can fail, on planted trees.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"index": 0, "rag": 1, "ui": 2}
FACES = {"ui.api", "ui.chat", "ui.cli"}
PUBLIC_RAG = ("rag", "rag.settings", "rag.errors", "rag.evaluation")


def _module(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> tuple[set[str], set[str]]:
    """The project modules ``path`` imports (at top level or inside functions): every name that may be
    a module (``from rag import service`` imports ``rag.service``), and the modules as written."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):  # `if TYPE_CHECKING:` bodies never run
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    found: set[str] = set()
    written: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
            written.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            written.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from rag import service` imports rag.service
    return {m for m in found if m.split(".")[0] in LAYERS}, {m for m in written if m.split(".")[0] in LAYERS}


def check(root: Path) -> list[str]:
    """The layer rule's violations in the tree at ``root`` (empty when it holds)."""
    modules = {_module(p, root): p for layer in LAYERS for p in (root / layer).rglob("*.py")}
    problems: list[str] = []
    graph: dict[str, set[str]] = {}
    for name, path in sorted(modules.items()):
        imported, written = _imports(path, name)
        graph[name] = {t for t in imported if t in modules} - {name}
        for target in sorted(imported | written):
            if LAYERS[target.split(".")[0]] > LAYERS[name.split(".")[0]] and (target in modules or target in LAYERS):
                problems.append(f"{name} imports {target}: up a layer")
            if name in FACES and target in FACES and target != name:
                problems.append(f"{name} imports {target}: one face imports another")
        for target in sorted(written):
            if name.startswith("ui.") and target.split(".")[0] == "rag" and not any(target == p or target.startswith(p + ".") for p in PUBLIC_RAG[1:]) \
                    and target != "rag":
                problems.append(f"{name} imports {target}: faces use the public API (rag, rag.settings, rag.errors, rag.evaluation)")
    problems += [f"import cycle: {' -> '.join(c)}" for c in _cycles(graph)]
    return problems


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan), as a path back to its start."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group) + [sorted(group)[0]])

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_the_project_keeps_its_layers() -> None:
    assert check(ROOT) == []


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    for layer in LAYERS:
        (tmp_path / layer).mkdir(parents=True, exist_ok=True)
        (tmp_path / layer / "__init__.py").write_text("")
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    return tmp_path


@pytest.mark.parametrize(("files", "expected"), [
    ({"index/store.py": "from rag.answer import ask\n", "rag/answer.py": "def ask(): ...\n"}, "index.store imports rag.answer: up a layer"),
    ({"rag/answer.py": "def f():\n    from ui import api\n", "ui/api.py": ""}, "rag.answer imports ui.api: up a layer"),
    ({"ui/api.py": "import ui.cli\n", "ui/cli.py": ""}, "ui.api imports ui.cli: one face imports another"),
    ({"ui/chat.py": "from rag.service import _embedder\n", "rag/service.py": ""}, "ui.chat imports rag.service: faces use the public API"),
    ({"rag/a.py": "from rag import b\n", "rag/b.py": "def f():\n    import rag.a\n"}, "import cycle: rag.a -> rag.b -> rag.a"),
])
def test_a_planted_violation_is_caught(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    problems = check(_plant(tmp_path, files))
    assert any(p.startswith(expected) for p in problems), problems


def test_type_checking_imports_are_not_cycles(tmp_path: Path) -> None:
    files = {"rag/a.py": "from rag import b\n", "rag/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from rag import a\n"}
    assert check(_plant(tmp_path, files)) == []
