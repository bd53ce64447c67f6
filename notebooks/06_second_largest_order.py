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
# # 06 · Each customer's second-largest order
#
# **Question.** For customers who ordered more than once, what is their second-biggest order?
#
# **How.** `lib.insights.orders.second_largest_order` ranks each customer's clean orders
# (a window per customer) and keeps rank 2.
#
# **Choices.** A customer's orders are ranked by quantity, largest first. Ties on
# quantity go to the **earlier purchase** (the first time the customer showed that
# appetite), and orders placed in the same second to the smaller `order_id` (code
# point order), so the result is the same on every run. Two orders of equal
# quantity are still two ranks: a customer with two orders of 4 tickets has one of
# them as largest and the other as second largest.
#
# **Grain.** One row per customer with at least two clean orders, by `customer_id`; customers with a single order do not appear.
#
# **Output.** `06_second_largest_order.csv`; chart `charts/06_second_largest_order.png`.

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

result = orders.second_largest_order(ctx.staged.tickets)

# %% [markdown]
# ## Result
# Written to `06_second_largest_order.csv` in the contract's format
# ([§5.1](../docs/contract.md#51-csv-format)) through the shared writer (atomic; text made
# formula-safe); the row count and the first rows below are read back from the written
# file.

# %%
# NBVAL_CHECK_OUTPUT
nb.write(result, ctx, "06_second_largest_order.csv")

# %% [markdown]
# ## Distribution of second-largest order sizes
# How many customers have a rank-2 order of 1, 2, 3, ... tickets.

# %%
import matplotlib.pyplot as plt

written = nb.written(result, ctx, "06_second_largest_order.csv")  # not computed again
sizes = nb.fetch(written.groupBy("quantity").count().orderBy("quantity"), ctx, "chart data")
fig, ax = plt.subplots(figsize=(9, 3.8))
ax.bar(sizes["quantity"], sizes["count"], color="#4f81bd")
ax.set_title("Each customer's second-largest order: tickets in the order")
ax.set_xlabel("tickets in the order")
ax.set_ylabel("customers")
fig.tight_layout()
nb.save_chart(fig, ctx, "06_second_largest_order")
