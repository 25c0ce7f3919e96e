"""The documents that describe the code stay true to it: the label table, the layer map, links."""

from __future__ import annotations

import re
from pathlib import Path

from test_layers import LAYERS

from ivcplan.labels import Label

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = DOCS.parent / "README.md"


def test_label_table_matches_the_enum() -> None:
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| \((\d+), (\d+), (\d+)\) \|$", (DOCS / "report.md").read_text(),
                      flags=re.M)
    table = {int(v): (key, (int(r), int(g), int(b))) for v, key, r, g, b in rows}
    assert table == {int(lab): (lab.key, lab.color) for lab in Label}


def test_stage_map_names_every_layer_and_package() -> None:
    text = (DOCS / "design.md").read_text()
    picture = text[text.index("## The layers"):text.index("## The packages")]
    for name, level in LAYERS.items():
        line = next((ln for ln in picture.splitlines() if re.search(rf"(?<![\w.]){re.escape(name)}(/|\.py)", ln)), None)
        assert line is not None, f"{name} missing from the layer picture"
        assert line.strip().startswith(str(level)), f"{name} drawn on the wrong layer: {line.strip()}"


def test_local_links_and_paths_in_the_docs_exist() -> None:
    repo = DOCS.parent
    for doc in [README, *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
        for path in re.findall(r"`((?:ivcplan|scripts|tests|docs)/[\w./-]+)`", doc.read_text()):
            assert (repo / path).exists() or list(repo.glob(path)), f"{doc.name} names missing {path}"


def test_the_package_and_docs_point_at_nothing_outside_the_repo() -> None:
    # Design files outside the repository drift away from the code: what the code relies on is in docs/.
    repo = DOCS.parent
    offenders = []
    for path in [README, *DOCS.glob("*.md"), *(repo / "ivcplan").rglob("*.py"), *(repo / "ivcplan").rglob("*.toml"),
                 *(repo / "ivcplan").rglob("*.json")]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "shared/design" in line or "domain.md" in line or "architecture.md" in line:
                offenders.append(f"{path.relative_to(repo)}:{n}")
    assert not offenders, offenders
