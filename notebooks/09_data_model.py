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
# tables `dim_customer`, `dim_event`, `fact_transaction`; chart `charts/09_data_model.png`
# (transactions per customer and per event).

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
# ## Referential integrity
# Primary keys are present and unique; every foreign key of `fact_transaction` finds its
# dimension row, and every event has a transaction (`star_schema.KEY_CHECKS`: the rules the
# report's data docs check too, on the tables as written). Each line counts the violations;
# all must be 0.

# %%
# NBVAL_CHECK_OUTPUT
model = {"dim_customer": dim_customer, "dim_event": dim_event, "fact_transaction": fact_transaction}
checks = nb.fetch(star_schema.key_checks(model), ctx, "key checks")
print(checks.to_string(index=False))
assert (checks["violations"] == 0).all(), "the data model breaks referential integrity"

# %% [markdown]
# ## Transactions per customer and per event
# The "many" of the two relations in the diagram: how many customers (those who never
# ordered included) and how many events have each number of transactions.

# %%
import matplotlib.pyplot as plt

per_customer = nb.fetch(  # one row per number of transactions: small
    star_schema.rows_per_key(fact_transaction, dim_customer, "customer_id"), ctx,
    "chart data: customers",
)
per_event = nb.fetch(
    star_schema.rows_per_key(fact_transaction, dim_event, "event_id"), ctx, "chart data: events"
)
fig, (customer_ax, event_ax) = plt.subplots(1, 2, figsize=(13, 4))
customer_ax.bar(per_customer["transactions"], per_customer["rows"], color="#4f81bd")
customer_ax.set_title("Customers by number of transactions (0: never ordered)")
customer_ax.set_xlabel("transactions")
customer_ax.set_ylabel("customers")
event_ax.bar(per_event["transactions"], per_event["rows"], color="#9bbb59")
event_ax.set_title("Events by number of transactions (each has at least one)")
event_ax.set_xlabel("transactions")
event_ax.set_ylabel("events")
fig.tight_layout()
nb.save_chart(fig, ctx, "09_data_model")

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
