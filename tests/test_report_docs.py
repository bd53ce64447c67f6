"""The report's lineage (lib/suite/lineage.py) and data docs
(lib/suite/datadocs.py) on the hand-made shareable output folder (tests/report_outputs.py)."""

from __future__ import annotations

from report_outputs import assert_self_contained

from lib.manifest import manifest_path, read_manifest
from lib.suite.datadocs import TABLES, contract_dictionary, table_docs
from lib.suite.lineage import build_lineage, mermaid
from lib.suite.report import build_report


def test_lineage_names_every_output_of_the_manifests_and_links_each_node(shareable_output):
    index = build_report(shareable_output)
    page = index.read_text()
    for name in ("00_data_quality", "09_data_model"):
        for out in read_manifest(manifest_path(shareable_output, name))["outputs"]:
            assert out["path"] in page
    graph = build_lineage(shareable_output, [("00_data_quality", True), ("09_data_model", True)])
    source = mermaid(graph)
    assert 'click nb_09_data_model href "notebooks/09_data_model.html"' in source
    assert 'out_warehouse_dim_customer["table dim_customer"]' in source
    assert "in_customer_json --> st_tickets" in source and "st_tickets --> nb_09_data_model" in source
    assert "in_tickets_csv --> st_tickets" in source and "in_tickets_csv --> st_customers" not in source
    assert sorted(graph.outputs()) == sorted([
        "data_quality.csv", "rejects/customers_rejected.csv", "09_dim_customer.csv",
        "09_fact_transaction.csv", "charts/09_data_model.png", "warehouse/dim_customer",
        "warehouse/fact_transaction"])
    refs = assert_self_contained(index.parent).refs  # every box's link resolves
    assert "#table-dim_customer" in refs and "data/09_dim_customer.csv" in refs


def test_data_docs_count_broken_keys_on_the_tables_as_written(shareable_output):
    docs = {d.name: d for d in table_docs(shareable_output)}
    assert docs["dim_customer"].rows == 2 and docs["tickets_denormalized"].rows is None
    fact = {c.rule: c.violations for c in docs["fact_transaction"].checks}
    assert fact == {"order_id present and unique": 1, "customer_id found in dim_customer": 1,
                    "event_id found in dim_event": None}  # dim_event was not written
    assert docs["dim_customer"].columns[0].meaning.startswith("the customer")
    page = build_report(shareable_output).read_text()
    assert 'id="table-fact_transaction"' in page and "FAILED" in page


def test_the_contract_describes_every_column_of_the_four_tables():
    from lib.schema import CUSTOMER_COLUMNS, TICKET_COLUMNS

    dictionary = {name: [c for c, _, _ in columns] for name, columns in contract_dictionary().items()}
    assert set(dictionary) == set(TABLES)
    assert dictionary["dim_customer"] == list(CUSTOMER_COLUMNS)
    assert set(dictionary["fact_transaction"]) <= set(TICKET_COLUMNS) | {"event_id"}
    assert all(meaning for columns in contract_dictionary().values() for _, _, meaning in columns)


def test_data_docs_count_the_rules_of_09_as_09_does(tmp_path):
    """The tables test_insights_star_schema breaks by hand, written without
    Spark: the data docs find the same violations as 09's key_checks."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from test_insights_star_schema import BROKEN, BROKEN_VIOLATIONS

    for name, (schema, data) in BROKEN.items():
        names = [column.split()[0] for column in schema.split(", ")]
        (tmp_path / "warehouse" / name).mkdir(parents=True)
        pq.write_table(pa.table({c: [row[i] for row in data] for i, c in enumerate(names)}),
                       tmp_path / "warehouse" / name / "part-0.parquet")
    checked = [(doc.name, check.rule, check.violations)
               for doc in table_docs(tmp_path) for check in doc.checks]
    assert checked == BROKEN_VIOLATIONS
