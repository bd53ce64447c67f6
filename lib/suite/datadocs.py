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

CONTRACT = PROJECT_ROOT / "docs" / "contract.md"
SECTION = "### 5.6 "
# table -> (key columns, {foreign key: referenced table}); 08 refers to 09's dimensions
TABLES = {
    "tickets_denormalized": (("order_id",), {"customer_id": "dim_customer", "event_id": "dim_event"}),
    "dim_customer": (("customer_id",), {}),
    "dim_event": (("event_id",), {}),
    "fact_transaction": (("order_id",), {"customer_id": "dim_customer", "event_id": "dim_event"}),
}
NATURAL_KEYS = {"dim_event": ("event_name", "event_date")}
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


def _key_checks(name: str, data, warehouse: Path) -> list[Check]:
    import pyarrow.compute as pc

    keys, foreign = TABLES[name]
    checks = []
    for key in keys:
        column = data.to_table(columns=[key]).column(key)
        unique = pc.count_distinct(column, mode="only_valid").as_py()
        checks.append(Check(f"{key} present and unique", len(column) - unique))
    natural = NATURAL_KEYS.get(name)
    if natural:
        table = data.to_table(columns=list(natural))
        distinct = table.group_by(list(natural)).aggregate([]).num_rows
        checks.append(Check(f"({', '.join(natural)}) unique", table.num_rows - distinct))
    for column_name, parent in foreign.items():
        rule = f"{column_name} found in {parent}"
        target = _dataset(warehouse, parent)
        if target is None:
            checks.append(Check(rule, None, f"{parent} was not written"))
            continue
        wanted = data.to_table(columns=[column_name]).column(column_name)
        known = target.to_table(columns=[column_name]).column(column_name)
        found = pc.is_in(wanted, value_set=known.combine_chunks())
        checks.append(Check(rule, int(pc.sum(pc.invert(pc.fill_null(found, False))).as_py() or 0)))
    return checks


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
        doc.checks = _key_checks(name, data, warehouse) if data is not None else []
        docs.append(doc)
    return docs
