"""The harness around the pipeline: the runner, kernels, the shared Spark
Connect server, progress, the report, the run lock and clean-up.

Imports go one way: ``lib.suite`` uses the pipeline modules of ``lib``; no
pipeline module imports ``lib.suite``.
"""
