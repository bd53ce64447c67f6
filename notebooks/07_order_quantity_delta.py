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
# # 07 · Change in order size from one order to the next
#
# **Question.** When a customer orders again, do they buy more or fewer tickets
# than last time, and by how much?
#
# **How.** `lib.insights.orders.order_quantity_delta` takes each customer's clean
# orders in purchase order (a window per customer) and puts the previous order's
# quantity next to each order.
#
# **Choices.**
# - "Previous" means the customer's order placed just before, by `purchase_ts`;
#   orders placed in the same second are taken in `order_id` order (code point),
#   so the result is the same on every run.
# - `quantity_delta = quantity - previous_quantity`: positive means a bigger order
#   than last time.
# - On a customer's first order both `previous_quantity` and `quantity_delta` are
#   empty (there is nothing to compare with), not 0.
# - One row per clean order, by `customer_id`, `purchase_ts`, `order_id`.
#
# **Output.** `07_order_quantity_delta.csv`; chart `charts/07_order_quantity_delta.png`.

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
from lib.insights import orders

result = orders.order_quantity_delta(ctx.staged.tickets)

# %% [markdown]
# ## Result
# Written to `07_order_quantity_delta.csv` in the contract's format
# ([§5.1](../docs/contract.md#51-csv-format)) through the shared writer (atomic; text made
# formula-safe); the row count and the first rows below are read back from the written
# file.

# %%
# NBVAL_CHECK_OUTPUT
nb.write(result, ctx, "07_order_quantity_delta.csv")

# %% [markdown]
# ## Distribution of quantity deltas
# Repeat orders only (first orders have no delta).

# %%
import matplotlib.pyplot as plt

deltas = (
    nb.written(result, ctx, "07_order_quantity_delta.csv")  # not computed again
    .where("quantity_delta IS NOT NULL")
    .groupBy("quantity_delta").count().orderBy("quantity_delta")
)
deltas = nb.fetch(deltas, ctx, "chart data")
colours = ["#c0504d" if d < 0 else "#9bbb59" if d > 0 else "#808080" for d in deltas["quantity_delta"]]
fig, ax = plt.subplots(figsize=(10, 3.8))
ax.bar(deltas["quantity_delta"], deltas["count"], color=colours)
ax.set_title("Change in tickets from the customer's previous order")
ax.set_xlabel("quantity - previous quantity")
ax.set_ylabel("orders")
fig.tight_layout()
nb.save_chart(fig, ctx, "07_order_quantity_delta")
