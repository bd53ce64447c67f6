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
# # 03 · Events each customer attended
#
# **Question.** For each customer who bought tickets, which events did they buy
# for, and how many different events is that?
#
# **How.** `lib.insights.customers.customer_events` collects each customer's
# distinct events from the clean orders and attaches the customer's name.
#
# **Choices.**
# - One row per customer with at least one clean order (everyone, including
#   customers who never ordered, is in 04).
# - An event is (event name, event date): two orders for the same event count
#   once; the same fixture on two dates counts twice.
# - `events` lists each event as `event_name (yyyy-MM-dd)`, separated by `; `,
#   ordered by event date, then event name (code point order of the cleaned name).
# - Each list item that a spreadsheet could run as a formula (starting with `=`,
#   `+`, `-`, `@`, ...) gets a leading `'`, item by item.
#
# **Output.** `03_customer_events.csv`; chart `charts/03_customer_events.png`.

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
from lib.insights import customers

result = customers.customer_events(ctx.staged.tickets, ctx.staged.customers)

# %% [markdown]
# ## Result
# Written to `03_customer_events.csv` in the contract's format
# ([§5.1](../docs/contract.md#51-csv-format)) through the shared writer (atomic; text made
# formula-safe); the row count and the first rows below are read back from the written
# file.

# %%
# NBVAL_CHECK_OUTPUT
nb.write(result, ctx, "03_customer_events.csv", rows=5)

# %% [markdown]
# ## Distribution of events per customer
# How many buying customers attended 1, 2, 3, ... different events.

# %%
import matplotlib.pyplot as plt

written = nb.written(result, ctx, "03_customer_events.csv")  # not computed again
distribution = nb.fetch(
    written.groupBy("event_count").count().orderBy("event_count"), ctx, "chart data"
)
fig, ax = plt.subplots(figsize=(9, 3.8))
ax.bar(distribution["event_count"], distribution["count"], color="#4f81bd")
ax.set_title("Customers by number of distinct events attended")
ax.set_xlabel("distinct events")
ax.set_ylabel("customers")
fig.tight_layout()
nb.save_chart(fig, ctx, "03_customer_events")
