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
# # 01 · Events: orders, tickets and sales per event
#
# **Question.** Which events did we sell, when and where were they, and how many
# orders, tickets and how much net revenue did each bring?
#
# **How.** Clean orders (shared staging layer, [contract §2](../docs/contract.md#2-cleaning-rules)) are grouped by
# event with `lib.insights.events.events_summary`: one row per event with at
# least one clean order.
#
# **Choices.**
# - An event is the pair (event name, event date). The same fixture name on two
#   dates is two events; the same date written in different formats on different
#   rows is one event (dates are parsed before grouping).
# - `event_id` is a hash of that natural key, so the same event has the same id in
#   every run and in every file (01, 08, 09).
# - `venue` is the venue of the event's first clean order in file order (the data
#   normally agrees; this only settles a disagreement).
# - `season` comes from the event date (not the purchase date), with seasons
#   starting on the 1st of `season_start_month`.
# - Rows are ordered by event date, then event name.
#
# **Output.** `01_events.csv`; chart `charts/01_events.png`.

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
from lib.insights import events

result = events.events_summary(ctx.staged.tickets, ctx.params.season_start_month)

# %% [markdown]
# ## Result
# Written to `01_events.csv` in the contract's format
# ([§5.1](../docs/contract.md#51-csv-format)) through the shared writer (atomic; text made
# formula-safe); the row count and the first rows below are read back from the written
# file.

# %%
# NBVAL_CHECK_OUTPUT
nb.write(result, ctx, "01_events.csv")

# %% [markdown]
# ## Orders per event over time
# Each dot is one event, placed at its date; the dashed line is `as_of_date`.

# %%
import matplotlib.pyplot as plt
import pandas as pd

per_event = nb.read_small_output(ctx, "01_events.csv")  # one row per event: small
per_event["event_date"] = pd.to_datetime(per_event["event_date"])
fig, ax = plt.subplots(figsize=(11, 4))
for season, rows in per_event.groupby("season"):
    ax.scatter(rows["event_date"], rows["order_count"], s=14, label=season)
ax.axvline(pd.Timestamp(ctx.params.as_of_date), color="grey", linestyle="--", linewidth=1)
ax.set_title("Clean orders per event, by event date")
ax.set_xlabel("event date")
ax.set_ylabel("orders")
ax.legend(title="season", fontsize=8, ncol=2)
fig.tight_layout()
nb.save_chart(fig, ctx, "01_events")
