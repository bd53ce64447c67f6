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
# # 08 · Tickets denormalized: every order with its event and its customer
#
# **Question.** Can analysts answer ad-hoc questions (sales per venue, per season,
# per customer title...) with plain SQL, without knowing how orders, events and
# customers fit together?
#
# **How.** `lib.insights.star_schema.denormalized_rows` joins each clean order (shared
# staging layer, [contract §2](../docs/contract.md#2-cleaning-rules)) to its event and to its customer: one row per
# clean order. The rows are persisted as the Spark SQL table `tickets_denormalized`
# (parquet under `<output_dir>/warehouse/tickets_denormalized/`), so they can be queried
# after this notebook has finished, and `08_tickets_denormalized.csv` is written from
# that table in the contract's row order: the join runs once.
#
# **Choices.**
# - `venue` and `season` are the *event's* attributes: the venue of the event's first
#   clean order in file order, the season of its event date. So every order of an event
#   shows the same venue, and the table agrees with `01_events.csv` and `09_dim_event.csv`.
# - `event_id` is the same hash of (event name, event date) as in 01 and 09.
# - Both joins are inner and lose nothing: every clean order has an event and a clean
#   customer (orders of unknown customers are rejected in staging).
# - Rows are ordered by event date, purchase time, then order id (unique, so the order is total).
# - The table is not a Hive table: there is no metastore (and no embedded-database lock
#   when several notebooks run at once). Each Spark session registers the parquet folders
#   as temporary views (`lib.tables.register_tables`).
#
# **Query it later**, from Python: `from lib.tables import open_session;
# spark = open_session("output"); spark.sql("SELECT ... FROM tickets_denormalized")`;
# or from a shell: `python -m lib.query --output-dir output "SELECT ... FROM tickets_denormalized"`
# (prints CSV).
#
# **Outputs.** `08_tickets_denormalized.csv`, table `tickets_denormalized`, chart `charts/08_tickets_denormalized.png`.

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

rows = star_schema.denormalized_rows(
    ctx.staged.tickets, ctx.staged.customers, ctx.params.season_start_month
)

# %% [markdown]
# ## Persist it as a Spark SQL table
# Written as parquet under `warehouse/tickets_denormalized/` (atomically: a scratch folder
# renamed into place) and registered in this session as `tickets_denormalized`.

# %%
table = nb.save_table(rows, ctx, "tickets_denormalized")
print("saved as table tickets_denormalized (warehouse/tickets_denormalized/)")

# %% [markdown]
# ## Result
# The table, sorted by event date, purchase time and order id, written to
# `08_tickets_denormalized.csv` in the contract's format
# ([§5.1](../docs/contract.md#51-csv-format)) through the shared writer (atomic; text made
# formula-safe); the row count and the first rows below are read back from the written
# file.

# %%
# NBVAL_CHECK_OUTPUT
nb.write(star_schema.in_denormalized_order(table), ctx, "08_tickets_denormalized.csv", rows=5)

# %% [markdown]
# ## Query it with SQL
# Orders, tickets and net sales per season:

# %%
# NBVAL_CHECK_OUTPUT
by_season = ctx.spark.sql("""
    SELECT season,
           count(*)                 AS orders,
           sum(quantity)            AS tickets,
           sum(net_sales)           AS net_sales,
           count(DISTINCT event_id) AS events
    FROM tickets_denormalized
    GROUP BY season
    ORDER BY season
""")
seasons = nb.show(by_season, ctx, "orders per season", rows=50)

# %% [markdown]
# The ten venues with the most net sales, and how many customers bought there:

# %%
# NBVAL_CHECK_OUTPUT
by_venue = ctx.spark.sql("""
    SELECT coalesce(venue, '(unknown)')  AS venue,
           count(DISTINCT event_id)      AS events,
           count(DISTINCT customer_id)   AS customers,
           count(*)                      AS orders,
           sum(net_sales)                AS net_sales
    FROM tickets_denormalized
    GROUP BY 1
    ORDER BY net_sales DESC, venue
    LIMIT 10
""")
venues = nb.show(by_venue, ctx, "top venues")

# %% [markdown]
# ## Net sales by season and by venue
# The two SQL results above, drawn (they are already on the driver: a few rows each).

# %%
import matplotlib.pyplot as plt

fig, (by_season_ax, by_venue_ax) = plt.subplots(1, 2, figsize=(13, 4.5), width_ratios=(2, 3))
by_season_ax.bar(seasons["season"], seasons["net_sales"].astype(float), color="#9bbb59")
by_season_ax.set_title("Net sales by season (GBP)")
by_season_ax.tick_params(axis="x", rotation=45)
top = venues.iloc[::-1]  # largest at the top
by_venue_ax.barh(top["venue"], top["net_sales"].astype(float), color="#4f81bd")
by_venue_ax.set_title("Top venues by net sales (GBP), all seasons")
by_venue_ax.set_xlabel("net sales (GBP)")
fig.tight_layout()
nb.save_chart(fig, ctx, "08_tickets_denormalized")
