"""Data docs for the star schema: each table of 08 and 09 with its columns (from
docs/contract.md §5.6 and as written), row count and key checks, read with
pyarrow, no Spark (docs/design.md, "The report and its shareable copy").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lib.config import PROJECT_ROOT
from lib.insights.star_schema import KEY_CHECKS, STAR_TABLES, KeyCheck, KeyRule

CONTRACT = PROJECT_ROOT / "docs" / "contract.md"
SECTION = "### 5.6 "
TABLES = STAR_TABLES
_SPARK_SQL = {"long": "bigint", "integer": "int", "short": "smallint", "byte": "tinyint"}


@dataclass
class Check:
    rule: str
    violations: int | None  # None: could not be checked (see note)
    note: str = ""


@dataclass
class Column:
    name: str
    type: str  # as the contract states it
    written: str  # as the table holds it ("" when the table is missing)
    meaning: str
    shared: str = ""  # what the shareable report does with it


@dataclass
class TableDoc:
    name: str
    rows: int | None  # None: the table was not written
    columns: list[Column] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


def contract_dictionary(contract: Path = CONTRACT) -> dict[str, list[tuple[str, str, str]]]:
    """docs/contract.md §5.6: table -> [(column, type, meaning)]."""
    tables: dict[str, list[tuple[str, str, str]]] = {}
    inside, current = False, None
    for line in contract.read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            inside = line.startswith(SECTION)
        elif inside and line.startswith("#### "):
            current = tables.setdefault(line[5:].strip(), [])
        elif inside and current is not None and line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            meaning = re.sub(r"\]\([^)]*\)", "]", cells[2]).replace("[", "").replace("]", "")
            current.append((cells[0].strip("`"), cells[1], meaning.replace("`", "")))
    return tables


def _written_types(folder: Path, dataset) -> dict[str, str]:
    """Column -> Spark SQL type, from the schema Spark stores in the footer."""
    meta = dataset.schema.metadata or {}
    raw = meta.get(b"org.apache.spark.sql.parquet.row.metadata")
    if raw is None:
        return {f.name: str(f.type) for f in dataset.schema}
    fields = json.loads(raw)["fields"]
    return {f["name"]: _SPARK_SQL.get(str(f["type"]), str(f["type"])) for f in fields}


def _dataset(warehouse: Path, name: str):
    import pyarrow.dataset as ds

    folder = warehouse / name
    return ds.dataset(folder, format="parquet") if folder.is_dir() else None


def _violations(check: KeyCheck, data, warehouse: Path) -> Check:
    """``check`` counted as :func:`lib.insights.star_schema.key_violations`
    counts it (a null key breaks either rule), in Arrow."""
    keys = data.to_table(columns=list(check.columns))
    if check.kind is KeyRule.UNIQUE:
        distinct = keys.drop_null().group_by(list(check.columns)).aggregate([]).num_rows
        return Check(check.rule, keys.num_rows - distinct)
    parent = _dataset(warehouse, check.parent)
    if parent is None:
        return Check(check.rule, None, f"{check.parent} was not written")
    known = parent.to_table(columns=list(check.columns)).group_by(list(check.columns)).aggregate([])
    return Check(check.rule, keys.join(known, list(check.columns), join_type="left anti").num_rows)


def table_docs(output_dir: Path, shared: Callable[[str], str] | None = None) -> list[TableDoc]:
    """One :class:`TableDoc` per table of 08 and 09, checked as written.
    ``shared``: what the shareable report does with a column."""
    warehouse = output_dir / "warehouse"
    try:
        dictionary = contract_dictionary()
    except OSError:  # installed without docs/: the report still shows types and checks
        dictionary = {}
    docs = []
    for name in TABLES:
        data = _dataset(warehouse, name)
        written = _written_types(warehouse / name, data) if data is not None else {}
        described = dictionary.get(name, [])
        names = [c for c, _, _ in described] + [c for c in written if c not in
                                                 {d for d, _, _ in described}]
        by_name = {c: (t, m) for c, t, m in described}
        doc = TableDoc(name, data.count_rows() if data is not None else None)
        for column in names:
            kind, meaning = by_name.get(column, ("", "not in the contract"))
            doc.columns.append(Column(column, kind, written.get(column, ""), meaning,
                                      shared(column) if shared else ""))
        doc.checks = [_violations(check, data, warehouse) for check in KEY_CHECKS
                      if check.table == name] if data is not None else []
        docs.append(doc)
    return docs
