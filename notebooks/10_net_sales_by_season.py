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
# # 10 · Net sales by season, and the change on the season before
#
# **Question.** How much did each season sell, and did it grow or shrink against the
# season before it?
#
# **How.** `lib.insights.seasons.net_sales_by_season` puts each clean order (shared staging
# layer, [contract §2](../docs/contract.md#2-cleaning-rules)) in the season of its **event date** and adds up orders, tickets and
# net sales per season. Every season from the first to the last season with sales gets a
# row; a season with no sales in between appears with zeros. Each season is compared with
# the season just before it in the calendar.
#
# **Choices.**
# - A season starts on the 1st of `season_start_month` (default 8 = August) and lasts 12
#   months; it is labelled `2023/24`, or `2023` when seasons are calendar years
#   (`season_start_month = 1`). `as_of_date` plays no part here: no order is filtered by it.
# - `previous_season_net_sales` is empty on the first row and `0.00` after a season with no sales.
# - `net_sales_change_pct = round((net_sales - previous) / previous * 100, 2)`, rounding half
#   up (halves away from zero, so -0.005 becomes -0.01), computed in exact decimals; empty when
#   there is no previous season or it sold 0.00 (a change from nothing has no percentage).
# - Rows are in season order.
#
# **Output.** `10_net_sales_by_season.csv`; chart `charts/10_net_sales_by_season.png`.

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

result = seasons.net_sales_by_season(ctx.staged.tickets, ctx.params.season_start_month)

# %% [markdown]
# ## Result
# Written to `10_net_sales_by_season.csv` in the contract's format
# ([§5.1](../docs/contract.md#51-csv-format)) through the shared writer (atomic; text made
# formula-safe); the row count and the first rows below are read back from the written
# file.

# %%
# NBVAL_CHECK_OUTPUT
nb.write(result, ctx, "10_net_sales_by_season.csv", rows=100)

# %% [markdown]
# ## Net sales by season
# Bars are net sales; the label above each bar is the change on the season before.

# %%
import matplotlib.pyplot as plt
import pandas as pd

per_season = nb.read_small_output(ctx, "10_net_sales_by_season.csv")  # one row per season: small
net_sales = per_season["net_sales"].astype(float)
fig, ax = plt.subplots(figsize=(11, 4.5))
bars = ax.bar(per_season["season"], net_sales, color="#4f81bd")
for bar, pct in zip(bars, per_season["net_sales_change_pct"], strict=True):
    label = "n/a" if pd.isna(pct) else f"{float(pct):+.2f}%"
    ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
ax.set_title("Net sales by season (GBP), with the change on the previous season")
ax.set_xlabel("season (by event date)")
ax.set_ylabel("net sales (GBP)")
ax.margins(y=0.12)
ax.tick_params(axis="x", rotation=45 if len(per_season) > 8 else 0)
fig.tight_layout()
nb.save_chart(fig, ctx, "10_net_sales_by_season")
