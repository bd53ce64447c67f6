"""One pure transform per SPEC output: DataFrames in, a DataFrame out, no I/O.

Each returns exactly the SPEC's columns, in the SPEC's row order, ready for
:func:`lib.writer.write_csv`.
"""
