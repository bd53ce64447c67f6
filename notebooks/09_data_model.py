# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python (ticket-insights)
#     language: python
#     name: ticket-insights
# ---

# %% [markdown]
# # 09 · Data model: customers, events and transactions as a star schema
#
# **Question.** How should the ticketing data be modelled so that reporting tools can
# slice sales by customer and by event without repeating customer and event details on
# every order?
#
# **How.** Three tables from the clean data (shared staging layer, [contract §2](../docs/contract.md#2-cleaning-rules)),
# each written as a CSV and persisted as a Spark SQL table under `<output_dir>/warehouse/`:
#
# - `dim_customer` (`lib.insights.star_schema.dim_customer`): one row per **clean customer**,
#   including customers who have not ordered yet. Key `customer_id`.
# - `dim_event` (`lib.insights.star_schema.dim_event`): one row per **event** with at least one
#   clean order. Key `event_id`, a hash of the natural key (event name, event date), the
#   same id as in 01 and 08 in every run.
# - `fact_transaction` (`lib.insights.star_schema.fact_rows`): one row per **clean order**.
#   Key `order_id`; foreign keys `customer_id` → `dim_customer`, `event_id` → `dim_event`.
#
# ```mermaid
# erDiagram
#     dim_customer ||--o{ fact_transaction : "customer_id"
#     dim_event ||--|{ fact_transaction : "event_id"
#     dim_customer {
#         bigint customer_id PK
#         string customer_title
#         string first_name
#         string last_name
#         string email
#         string phone
#         string postcode
#     }
#     dim_event {
#         string event_id PK "hash of (event_name, event_date)"
#         string event_name
#         date event_date
#         string venue
#         string season
#     }
#     fact_transaction {
#         string order_id PK
#         bigint customer_id FK
#         string event_id FK
#         timestamp purchase_ts
#         int quantity
#         decimal net_sales
#     }
# ```
#
# A customer has zero or more transactions; an event has one or more (events exist here
# only through their orders). Joining the fact to both dimensions gives back
# `08_tickets_denormalized` row for row (the tests prove it). This notebook proves that
# every key is unique and every foreign key resolves; the checks `assert`, so a broken model
# fails the run.
#
# **Outputs.** `09_dim_customer.csv`, `09_dim_event.csv`, `09_fact_transaction.csv`;
# tables `dim_customer`, `dim_event`, `fact_transaction`; chart `charts/09_data_model.png`.

# %% tags=["parameters"]
data_dir = "data"  # folder holding tickets.csv and customer.json
output_dir = "output"  # folder the CSV outputs are written to
as_of_date = None  # ISO yyyy-mm-dd string, or None for today; decides the current season only
season_start_month = 8  # month (1-12) on whose 1st a season starts, 8 for August
run_context = None  # set by the suite runner (its Spark, pinned inputs); None when run alone

# %%
from lib import notebook as nb

# Validates the parameters before Spark starts, then gets Spark and the staged clean data.
ctx = nb.setup(data_dir, output_dir, as_of_date, season_start_month, run_context)

# %%
from lib.insights import star_schema

tickets, customers = ctx.staged.tickets, ctx.staged.customers

# %% [markdown]
# ## Persist the tables
# Each is written as parquet under `warehouse/<name>/` and registered in this session;
# a new session made by `lib.tables.open_session(output_dir)` (or `python -m lib.query`) finds them.
# The fact is saved in no particular order; each CSV below sorts its saved table.

# %%
dim_customer = nb.save_table(star_schema.dim_customer(customers), ctx, "dim_customer")
dim_event = nb.save_table(
    star_schema.dim_event(tickets, ctx.params.season_start_month), ctx, "dim_event"
)
fact_transaction = nb.save_table(star_schema.fact_rows(tickets), ctx, "fact_transaction")
print("saved as tables dim_customer, dim_event, fact_transaction (warehouse/<name>/)")

# %% [markdown]
# ## The three tables
# Each table in its contract row order, written as a CSV in the contract's format
# ([§5.1](../docs/contract.md#51-csv-format)) through the shared writer (atomic; text made
# formula-safe); the row counts and the first rows below are read back from the written files.

# %%
# NBVAL_CHECK_OUTPUT
nb.write(dim_customer.orderBy(*star_schema.DIM_CUSTOMER_ORDER), ctx, "09_dim_customer.csv", rows=5)

# %%
# NBVAL_CHECK_OUTPUT
nb.write(dim_event.orderBy(*star_schema.DIM_EVENT_ORDER), ctx, "09_dim_event.csv", rows=5)

# %%
# NBVAL_CHECK_OUTPUT
nb.write(fact_transaction.orderBy(*star_schema.FACT_ORDER), ctx, "09_fact_transaction.csv", rows=5)

# %% [markdown]
# ## The model, drawn
# Columns and types come from the DataFrames themselves, so the picture cannot drift from the tables.

# %%
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

FOREIGN = {"customer_id", "event_id"}
LINE = 0.42


def draw_table(ax, x, top, name, df, is_fact=False):
    """A table box: name, then one line per column with its type and key role
    (the first column is the primary key)."""
    height = LINE * (len(df.columns) + 1.4)
    ax.add_patch(FancyBboxPatch((x, top - height), 3.6, height, boxstyle="round,pad=0.05",
                                facecolor="#fdf5e6" if is_fact else "#e8f0fa", edgecolor="#333"))
    ax.text(x + 1.8, top - 0.35, name, ha="center", weight="bold", fontsize=11)
    rows = {}
    for i, (column, dtype) in enumerate(df.dtypes):
        role = "PK" if i == 0 else "FK" if is_fact and column in FOREIGN else ""
        y = top - LINE * (i + 1.9)
        ax.text(x + 0.15, y, f"{role:>2}  {column}", fontsize=9, family="monospace",
                weight="bold" if role else "normal")
        ax.text(x + 3.45, y, dtype, fontsize=8, ha="right", color="#555")
        rows[column] = y
    return rows


fig, ax = plt.subplots(figsize=(12, 4))
ax.set_xlim(0, 13.2)
ax.set_ylim(0.6, 4.6)
ax.axis("off")
customer_rows = draw_table(ax, 0.2, 4.3, "dim_customer", dim_customer)
fact_rows = draw_table(ax, 4.8, 4.3, "fact_transaction", fact_transaction, is_fact=True)
event_rows = draw_table(ax, 9.4, 4.3, "dim_event", dim_event)
arrow = dict(arrowstyle="-|>", color="#c0504d", lw=1.6)
ax.annotate("", xy=(3.85, customer_rows["customer_id"] + 0.07),
            xytext=(4.75, fact_rows["customer_id"] + 0.07), arrowprops=arrow)
ax.annotate("", xy=(9.35, event_rows["event_id"] + 0.07),
            xytext=(8.45, fact_rows["event_id"] + 0.07), arrowprops=arrow)
ax.text(4.3, customer_rows["customer_id"] + 0.25, "many : 1", ha="center", fontsize=8, color="#c0504d")
ax.text(8.9, event_rows["event_id"] + 0.25, "many : 1", ha="center", fontsize=8, color="#c0504d")
ax.set_title("Star schema: fact_transaction joins dim_customer on customer_id and dim_event on event_id")
nb.save_chart(fig, ctx, "09_data_model")

# %% [markdown]
# ## Referential integrity
# Primary keys are present and unique; every foreign key of `fact_transaction` finds its
# dimension row. Each line counts the violations; all must be 0.

# %%
# NBVAL_CHECK_OUTPUT
checks = ctx.spark.sql("""
    SELECT 'dim_customer: null or repeated customer_id' AS rule,
           count(*) - count(DISTINCT customer_id) AS violations FROM dim_customer
    UNION ALL
    SELECT 'dim_event: null or repeated event_id',
           count(*) - count(DISTINCT event_id) FROM dim_event
    UNION ALL
    SELECT 'dim_event: repeated (event_name, event_date)',
           count(*) - count(DISTINCT event_name, event_date) FROM dim_event
    UNION ALL
    SELECT 'fact_transaction: null or repeated order_id',
           count(*) - count(DISTINCT order_id) FROM fact_transaction
    UNION ALL
    SELECT 'fact_transaction: customer_id not in dim_customer', count(*)
    FROM fact_transaction f LEFT ANTI JOIN dim_customer c ON f.customer_id = c.customer_id
    UNION ALL
    SELECT 'fact_transaction: event_id not in dim_event', count(*)
    FROM fact_transaction f LEFT ANTI JOIN dim_event e ON f.event_id = e.event_id
    UNION ALL
    SELECT 'dim_event: event without a transaction', count(*)
    FROM dim_event e LEFT ANTI JOIN fact_transaction f ON e.event_id = f.event_id
""").toPandas()
print(checks.to_string(index=False))
assert (checks["violations"] == 0).all(), "the data model breaks referential integrity"

# %% [markdown]
# ## Rebuild 08 from the model
# The join a reporting tool needs:
#
# ```sql
# SELECT f.order_id, f.purchase_ts, f.quantity, f.net_sales,
#        e.event_id, e.event_name, e.event_date, e.venue, e.season,
#        c.customer_id, c.customer_title, c.first_name, c.last_name,
#        c.email, c.phone, c.postcode
# FROM fact_transaction f
# JOIN dim_event e    ON f.event_id = e.event_id
# JOIN dim_customer c ON f.customer_id = c.customer_id
# ORDER BY e.event_date, f.purchase_ts, f.order_id
# ```
#
# It gives back `08_tickets_denormalized` row for row. That is proved by the tests
# (`tests/test_insights_star_schema.py`, on hand-made edge rows and on the pinned data), not
# here: at ten million orders the two joins it takes would double this notebook's time.
