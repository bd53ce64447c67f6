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
# # 11 · Purchaser status: current, previous or future ticket purchaser
#
# **Question.** Which customers are buying for the current season, which last bought for an
# earlier season (lapsed, worth a win-back campaign), and which have only bought ahead for a
# future season?
#
# **How.** `lib.insights.seasons.purchaser_status` finds each customer's **latest event**
# among their clean orders (shared staging layer, [contract §2](../docs/contract.md#2-cleaning-rules)), takes that event's season
# and compares it with the **current season**, the season holding `as_of_date`:
#
# | latest event's season | status |
# |---|---|
# | the current season | `Current Ticket Purchaser` |
# | earlier | `Previous Ticket Purchaser` |
# | later | `Future Ticket Purchaser` |
#
# **Choices.**
# - The latest event is the one with the greatest **event date** (not purchase time): what
#   matters is which season the customer holds tickets for. Two events on that date are
#   settled by event name, ascending (Unicode code point order), so the result is the same
#   in every run.
# - `as_of_date` defaults to today; it decides only the current season. Seasons start on the
#   1st of `season_start_month` and are compared by their start year, not by label text.
# - One row per customer with at least one clean order, by `customer_id`. Customers who never
#   ordered have no status (they are in 04 and 09's `dim_customer`).
#
# **Output.** `11_purchaser_status.csv`; chart `charts/11_purchaser_status.png`.

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
from lib.insights import seasons

result = seasons.purchaser_status(
    ctx.staged.tickets, ctx.params.as_of_date, ctx.params.season_start_month
)

# %% [markdown]
# ## Result
# Written to `11_purchaser_status.csv` in the contract's format
# ([§5.1](../docs/contract.md#51-csv-format)) through the shared writer (atomic; text made
# formula-safe); the row count and the first rows below are read back from the written
# file.

# %%
# NBVAL_CHECK_OUTPUT
nb.write(result, ctx, "11_purchaser_status.csv")

# %% [markdown]
# ## Customers per status

# %%
# NBVAL_CHECK_OUTPUT
STATUSES = [seasons.PREVIOUS, seasons.CURRENT, seasons.FUTURE]
written = nb.written(result, ctx, "11_purchaser_status.csv")  # not computed again
per_status_rows = nb.fetch(
    written.groupBy("current_season", "purchaser_status").count(), ctx, "counts per status"
)  # <= 3 rows
rows = per_status_rows.to_dict("records")
per_status = {status: 0 for status in STATUSES}
per_status.update({row["purchaser_status"]: row["count"] for row in rows})
current_season = rows[0]["current_season"] if rows else "none (no orders)"
print(f"current season: {current_season} (as_of_date {ctx.params.as_of_date})")
for status, customers in per_status.items():
    print(f"{status:<26} {customers:>8,}")

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(8, 4))
bars = ax.bar([s.replace(" Ticket Purchaser", "") for s in per_status],
              list(per_status.values()), color=["#9bbb59", "#4f81bd", "#f79646"])
ax.bar_label(bars, labels=[f"{n:,}" for n in per_status.values()], padding=3)
ax.set_title(f"Customers by purchaser status (current season {current_season})")
ax.set_ylabel("customers")
ax.margins(y=0.12)
fig.tight_layout()
nb.save_chart(fig, ctx, "11_purchaser_status")
