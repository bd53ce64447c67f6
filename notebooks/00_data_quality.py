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
# # 00 · Data quality: what was kept, what was rejected, and why
#
# **Question.** Before any insight is trusted: how many orders and customers in the
# files are usable, and what is wrong with the rest?
#
# **How.** Every record of `tickets.csv` and `customer.json` goes through the cleaning
# rules of the shared staging layer (`lib/cleaning.py`, [contract §2](../docs/contract.md#2-cleaning-rules)) exactly once.
# Each rejected record keeps its first failing reason and its fields exactly as read,
# so nothing is lost: for each input, raw records = clean + rejected. Every other
# notebook reads the same clean data.
#
# **Outputs.** `data_quality.csv`, `rejects/tickets_rejected.csv`, `rejects/customers_rejected.csv`.

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
from lib.insights import quality

data_quality = quality.data_quality_summary(ctx.staged.data_quality)
tickets_rejected = quality.in_file_order(ctx.staged.tickets_rejected)
customers_rejected = quality.in_file_order(ctx.staged.customers_rejected)

# %% [markdown]
# ## Outcomes per input
# One row per (dataset, outcome) that occurs; `clean` or the reject reason. Written to
# `data_quality.csv` through the shared writer (atomic; text made formula-safe); the rows
# below are read back from the written file.

# %%
# NBVAL_CHECK_OUTPUT
nb.write(data_quality, ctx, "data_quality.csv", rows=30)

# %% [markdown]
# ## Nothing is lost
# Records read from each file (counted by the staging layer as it read them) against
# clean + rejected in the file just written. The check fails loudly if they do not add up.

# %%
# NBVAL_CHECK_OUTPUT
outcomes = nb.read_small_output(ctx, "data_quality.csv")  # one row per (dataset, outcome): small
recon = quality.reconciliation(outcomes, ctx.staged.raw_counts)
print(recon.to_string(index=False))
assert recon["reconciles"].all(), "raw records != clean + rejected"

# %% [markdown]
# ## Reject reasons
# How often each rule fired, per input.

# %%
import matplotlib.pyplot as plt

reasons = outcomes[outcomes["outcome"] != "clean"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for ax, dataset in zip(axes, ["tickets", "customers"], strict=True):
    rows = reasons[reasons["dataset"] == dataset].sort_values("rows")
    ax.barh(rows["outcome"], rows["rows"], color="#c0504d")
    ax.set_title(f"{dataset}: rejected records by reason")
    ax.set_xlabel("records")
fig.tight_layout()
nb.save_chart(fig, ctx, "00_data_quality")

# %% [markdown]
# ## The rejected records, as read
# Each in file order with its reason, written under `rejects/`; the first few shown.

# %%
# NBVAL_CHECK_OUTPUT
nb.write(tickets_rejected, ctx, "rejects/tickets_rejected.csv", rows=5)

# %%
# NBVAL_CHECK_OUTPUT
nb.write(customers_rejected, ctx, "rejects/customers_rejected.csv", rows=5)
