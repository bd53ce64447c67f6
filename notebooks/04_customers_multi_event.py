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
# # 04 · Customers who attend more than one event
#
# **Question.** Which of our customers have bought for more than one event?
#
# **How.** `lib.insights.customers.customers_multi_event` counts each customer's
# distinct events in the clean orders and flags `MultiEvent` when that count is
# more than one.
#
# **Choices.**
# - **Every** clean customer is listed, also those who never ordered: their
#   `event_count` is 0 and `MultiEvent` is `false` (not empty).
# - An event is (event name, event date): several orders for the same event are one
#   event, so a customer with three orders for one match is not multi-event.
# - Rows by `customer_id`.
#
# **Output.** `04_customers_multi_event.csv`; chart `charts/04_customers_multi_event.png`.

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

result = customers.customers_multi_event(ctx.staged.tickets, ctx.staged.customers)

# %% [markdown]
# ## Result
# Written to `04_customers_multi_event.csv` in the contract's format
# ([§5.1](../docs/contract.md#51-csv-format)) through the shared writer (atomic; text made
# formula-safe); the row count and the first rows below are read back from the written
# file.

# %%
# NBVAL_CHECK_OUTPUT
nb.write(result, ctx, "04_customers_multi_event.csv")

# %% [markdown]
# ## Multi-event customers
# How many customers are multi-event, single-event or never ordered.

# %%
# NBVAL_CHECK_OUTPUT
written = nb.written(result, ctx, "04_customers_multi_event.csv")  # not computed again
distribution = nb.fetch(  # one row per distinct event count: small
    written.groupBy("event_count", "MultiEvent").count().orderBy("event_count"),
    ctx, "customers per event count",
)
summary = (
    distribution.assign(never_ordered=distribution["event_count"] == 0)
    .groupby(["MultiEvent", "never_ordered"], as_index=False)["count"].sum()
)
print(summary.to_string(index=False))

# %% [markdown]
# ## Distribution of events per customer
# All customers, those who never ordered at 0 (the counts above, drawn).

# %%
import matplotlib.pyplot as plt

colours = distribution["MultiEvent"].map({True: "#4f81bd", False: "#9bbb59"})
fig, ax = plt.subplots(figsize=(9, 3.8))
ax.bar(distribution["event_count"], distribution["count"], color=colours)
ax.set_title("Customers by distinct events (blue: MultiEvent)")
ax.set_xlabel("distinct events")
ax.set_ylabel("customers")
fig.tight_layout()
nb.save_chart(fig, ctx, "04_customers_multi_event")
