"""The run's lineage, drawn from the notebooks' manifests (:mod:`lib.manifest`):
input files -> staged data -> notebooks -> CSVs, charts and tables, as each
notebook recorded what it read and wrote. Nothing is drawn from a plan.

Two forms for the report, both made here without network or graphviz: an SVG
(four columns, each node a link to its notebook page, file or data-doc
section) and the same graph as Mermaid source, for anyone who wants to paste
it into a Mermaid renderer.
"""

from __future__ import annotations

import enum
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from lib.manifest import manifest_path, read_manifest


class Stage(enum.Enum):
    """The diagram's columns, left to right: value = its heading."""

    INPUT = "input files"
    STAGED = "staged data"
    NOTEBOOK = "notebooks"
    OUTPUT = "CSVs, charts, tables"


_X = {Stage.INPUT: 0, Stage.STAGED: 190, Stage.NOTEBOOK: 380, Stage.OUTPUT: 640}
_WIDTH = {Stage.INPUT: 160, Stage.STAGED: 160, Stage.NOTEBOOK: 200, Stage.OUTPUT: 290}
_FILL = {"input": "#fff4d6", "staged": "#e6f0e0", "notebook": "#e8f0fa", "csv": "#ffffff",
         "chart": "#f4ecfa", "table": "#fdf5e6"}
ROW, BOX = 24, 18


@dataclass
class Node:
    id: str
    label: str
    column: Stage
    kind: str  # input, staged, notebook, or the manifest's kind: csv, chart, table
    href: str  # relative to the report folder
    title: str = ""
    y: float = 0.0


@dataclass
class Lineage:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add(self, node: Node) -> str:
        self.nodes.setdefault(node.id, node)
        return node.id

    def link(self, source: str, target: str) -> None:
        if (source, target) not in self.edges:
            self.edges.append((source, target))

    def outputs(self) -> list[str]:
        return [n.title for n in self.nodes.values() if n.column is Stage.OUTPUT]


def _node_id(prefix: str, text: str) -> str:
    return f"{prefix}_" + re.sub(r"[^A-Za-z0-9]", "_", text)


def output_href(kind: str, path: str) -> str:
    if kind == "csv":
        return f"data/{path}"
    if kind == "table":
        return f"#table-{Path(path).name}"
    return path  # charts are copied under the same path


def build_lineage(output_dir: Path, notebooks: list[tuple[str, bool]]) -> Lineage:
    """From the manifests of ``notebooks`` ((name, succeeded) in run order):
    a failed notebook's outputs are left out, as the report leaves them out."""
    graph = Lineage()
    for name, succeeded in notebooks:
        manifest = read_manifest(manifest_path(output_dir, name)) or {}
        notebook = graph.add(Node(_node_id("nb", name), name, Stage.NOTEBOOK, "notebook",
                                  f"notebooks/{name}.html", f"notebooks/{name}.ipynb"))
        for read in manifest.get("reads", []):
            part = Path(read["path"]).name
            staged = graph.add(Node(_node_id("st", part), f"staged {part}", Stage.STAGED, "staged",
                                    "#data-quality", read["path"]))
            graph.link(staged, notebook)
            for source in read.get("sources", []):
                graph.link(graph.add(Node(_node_id("in", Path(source).name), Path(source).name,
                                          Stage.INPUT, "input", "#data-quality", source)), staged)
        for out in manifest.get("outputs", []) if succeeded else []:
            if not (output_dir / out["path"]).exists():
                continue
            label = f"table {Path(out['path']).name}" if out["kind"] == "table" else out["path"]
            graph.link(notebook, graph.add(Node(_node_id("out", out["path"]), label, Stage.OUTPUT,
                                                out["kind"], output_href(out["kind"], out["path"]),
                                                out["path"])))
    return graph


def mermaid(graph: Lineage) -> str:
    """The graph as Mermaid flowchart source, with a click link per node."""
    lines = ["flowchart LR"]
    for stage in Stage:
        lines.append(f'  subgraph {stage.name.lower()}["{stage.value}"]')
        for node in (n for n in graph.nodes.values() if n.column is stage):
            label = node.label.replace('"', "#quot;")
            lines.append(f'    {node.id}["{label}"]')
        lines.append("  end")
    lines += [f"  {a} --> {b}" for a, b in graph.edges]
    lines += [f'  click {n.id} href "{n.href}"' for n in graph.nodes.values()]
    return "\n".join(lines) + "\n"


def _layout(graph: Lineage) -> float:
    """Give each node its y: outputs one per row, grouped by notebook; a
    notebook at the middle of its outputs; staged data and inputs spread
    evenly. Returns the height."""
    row = 0
    for notebook in (n for n in graph.nodes.values() if n.column is Stage.NOTEBOOK):
        outs = [graph.nodes[b] for a, b in graph.edges if a == notebook.id]
        for out in outs:
            out.y = row * ROW
            row += 1
        notebook.y = (outs[0].y + outs[-1].y) / 2 if outs else row * ROW
        row += 0 if outs else 1
    height = max(row, 1) * ROW
    for stage in (Stage.STAGED, Stage.INPUT):
        nodes = [n for n in graph.nodes.values() if n.column is stage]
        for i, node in enumerate(nodes):
            node.y = (i + 0.5) * height / len(nodes) - ROW / 2
    return height


def svg(graph: Lineage) -> str:
    """The graph as an SVG element; each node is a link."""
    height = _layout(graph) + 30
    width = _X[Stage.OUTPUT] + _WIDTH[Stage.OUTPUT] + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width}" '
             f'height="{height:.0f}" viewBox="0 0 {width} {height:.0f}" role="img" '
             'aria-label="lineage of this run">']
    for stage in Stage:
        parts.append(f'<text x="{_X[stage] + 4}" y="12" class="head">{stage.value}</text>')
    top = 22
    for a, b in graph.edges:
        s, t = graph.nodes[a], graph.nodes[b]
        x1, y1 = _X[s.column] + _WIDTH[s.column], top + s.y + BOX / 2
        x2, y2 = _X[t.column], top + t.y + BOX / 2
        mid = (x1 + x2) / 2
        parts.append(f'<path d="M{x1},{y1:.1f} C{mid},{y1:.1f} {mid},{y2:.1f} {x2},{y2:.1f}"/>')
    for node in graph.nodes.values():
        x, y = _X[node.column], top + node.y
        parts.append(
            f'<a href="{html.escape(node.href)}"><title>{html.escape(node.title or node.label)}'
            f'</title><rect x="{x}" y="{y:.1f}" width="{_WIDTH[node.column]}" height="{BOX}" '
            f'rx="4" fill="{_FILL[node.kind]}"/><text x="{x + 6}" y="{y + 13:.1f}">'
            f'{html.escape(node.label)}</text></a>')
    parts.append("</svg>")
    return "\n".join(parts)
