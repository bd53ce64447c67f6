"""One pure transform per output of docs/contract.md §5: DataFrames in, a DataFrame out, no I/O.

Each returns exactly the contract's columns, in the contract's row order, ready for
:func:`lib.writer.write_csv`.
"""
