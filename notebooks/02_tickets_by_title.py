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
# # 02 · Tickets sold by customer title
#
# **Question.** How many tickets do customers of each title (Mr, Mrs, Dr, ...) buy,
# in how many orders, and how many different customers is that?
#
# **How.** `lib.insights.customers.tickets_by_title` adds up the clean orders of
# each customer, attaches the customer's title and sums per title.
#
# **Choices.**
# - The title is the ordering customer's title from `customer.json`, normalised
#   (`" MRS. "` → `Mrs`); a missing or empty title counts as `Unknown`.
# - Only titles that appear among clean orders are listed (a title whose
#   customers never ordered has no row).
# - Every clean order belongs to a clean customer (orders of unknown customers are
#   rejected in staging), so no order is lost in the join: the tickets here add up
#   to the tickets in 01.
# - Rows by tickets sold, largest first; equal totals by title A-Z (code point order).
#
# **Output.** `02_tickets_by_title.csv`; chart `charts/02_tickets_by_title.png`.

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

result = customers.tickets_by_title(ctx.staged.tickets, ctx.staged.customers)

# %% [markdown]
# ## Result
# Written to `02_tickets_by_title.csv` in the contract's format
# ([§5.1](../docs/contract.md#51-csv-format)) through the shared writer (atomic; text made
# formula-safe); the row count and the first rows below are read back from the written
# file.

# %%
# NBVAL_CHECK_OUTPUT
nb.write(result, ctx, "02_tickets_by_title.csv", rows=30)

# %% [markdown]
# ## Tickets by title

# %%
import matplotlib.pyplot as plt

by_title = nb.read_small_output(ctx, "02_tickets_by_title.csv")  # one row per title: small
by_title = by_title.iloc[::-1]  # largest at the top of the chart
fig, ax = plt.subplots(figsize=(8, 0.4 * len(by_title) + 1.5))
ax.barh(by_title["customer_title"], by_title["tickets_sold"], color="#4f81bd")
ax.set_title("Tickets sold by customer title")
ax.set_xlabel("tickets sold")
fig.tight_layout()
nb.save_chart(fig, ctx, "02_tickets_by_title")
