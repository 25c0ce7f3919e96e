"""The package's layers, read from the code: every import (top level or inside a function, TYPE_CHECKING
included) goes down the stage map of docs/design.md, never up, and nothing writes output files but
`ivcplan.outputs` and the layers that call it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ivcplan"

#: Layer of each top-level module or package (docs/design.md); a module may import its own layer's
#: peers only where listed in PEERS, and any lower layer.
LAYERS: dict[str, int] = {
    "errors": 0, "labels": 0, "vocabulary": 0, "progress": 0, "parallel": 0, "memory": 0, "metrics": 0, "volume": 0,
    "io": 1, "sample_data": 1,
    "anatomy": 2,
    "measure": 3,
    "plan": 4,
    "render": 5, "report": 5, "phantom": 5,
    "analysis": 6,
    "outputs": 7,
    "pipeline": 8, "replan": 8,
    "batch": 9, "viewer": 9, "cli": 10,
}
#: Same-layer imports that are part of the design.
PEERS = {("errors", "labels"), ("volume", "errors"), ("volume", "labels"), ("vocabulary", "labels"),
         ("phantom", "render"),
         ("report", "render"), ("replan", "pipeline")}


def _top(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "ivcplan":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            if node.module == "ivcplan":  # from ivcplan import io, measure
                out += [(node.lineno, f"ivcplan.{alias.name}") for alias in node.names]
    return out


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _owner(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_every_module_has_a_layer() -> None:
    owners = {_owner(p) for p in _modules()} - {"__init__", "__main__"}
    assert owners <= set(LAYERS), f"modules without a layer in docs/design.md and this test: {owners - set(LAYERS)}"


def upward_imports(path: Path, owner: str) -> list[str]:
    """The imports of ``path`` (in package ``owner``) that go up the layers or sideways unplanned."""
    own = LAYERS[owner]
    found = []
    for line, module in _imports(path):
        target = _top(module)
        if target is None or target in ("__init__", owner) or target not in LAYERS:
            continue  # outside the package, within the same package, or a name from the root (__version__)
        level = LAYERS[target]
        if level > own or (level == own and (owner, target) not in PEERS):
            found.append(f"line {line}: {module} (layer {level} > {own})" if level > own else
                         f"line {line}: {module} (same layer {level}, not a planned peer)")
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_down_the_layers(path: Path) -> None:
    owner = _owner(path)
    if owner in ("__init__", "__main__"):
        return
    upward = upward_imports(path, owner)
    assert not upward, f"{path.relative_to(PACKAGE)} imports upward: {upward}"


def test_the_layer_test_sees_an_upward_import(tmp_path: Path) -> None:
    # The check itself can fail: the output registration the measurement and io modules once did is caught.
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from ivcplan.pipeline import run\n    return run\n")
    assert upward_imports(bad, "measure") == ["line 2: ivcplan.pipeline (layer 8 > 3)"]
    assert upward_imports(bad, "io") == ["line 2: ivcplan.pipeline (layer 8 > 1)"]
    assert upward_imports(bad, "batch") == []
