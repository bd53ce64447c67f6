"""Run the whole notebook suite: ``python -m lib.run`` (what ``make run`` calls).

Notebook 00 first, then 01-11 up to ``--jobs`` at once on one warm Spark; the
behaviour and exit codes are in the README ("The suite runner, the report and
SQL"), the mechanisms in docs/design.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from lib.config import PROJECT_ROOT, Params, make_params
from lib.errors import TicketInsightsError
from lib.input_checks import check_input_files
from lib.run_context import RunContext
from lib.session import server_java_options
from lib.staged import changed_inputs, is_staged, pin_inputs
from lib.suite import class_archive
from lib.suite.cleanup import output_dir_lock, remove_stale_scratch
from lib.suite.connect_server import spark_for_batch
from lib.suite.dry_run import dry_run
from lib.suite.freshness import recorded_outputs, run_fingerprint, stale_reason
from lib.suite.kernel_pool import KernelPool, kill_kernels
from lib.suite.kernels import load_notebook_tools, run_batch, run_notebook
from lib.suite.models import Result, Status
from lib.suite.options import arguments, select
from lib.suite.options import jobs as parallel_jobs
from lib.suite.options import timeout as notebook_timeout
from lib.suite.processes import without_spark
from lib.suite.progress import Progress, summary_table
from lib.suite.review import read_compare_to, review_or_warn
from lib.suite.run_record import RunFacts, output_fingerprints
from lib.suite.share import share_key_file
from lib.suite.watch import Halt, ServerWatch, disk_full, named_failure

FIRST = "00"  # stages the data; the rest start once it has
# Then, below LONGEST_FIRST_BELOW_BYTES of input, the two longest notebooks (the
# whole data set at the order grain, several outputs each) start before the
# others, so the short ones fill the run's end instead of one long notebook
# running alone: 1M orders, three pairs, median 84.9 -> 78.9 s. At 10M the two
# side by side took the server's JVM past 4 GiB (4,282 against 3,772 MiB), so
# larger inputs keep notebook order (bench/README.md, fourteenth session).
LONGEST = ("09", "08")
LONGEST_FIRST_BELOW_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Batch:
    params: Params
    notebooks: list[Path]
    jobs: int
    timeout: float  # s one notebook may run
    executed_dir: Path
    shown_from: Path  # the user's working directory, for the paths we print
    pin: dict = field(default_factory=dict)  # the staged version (lib.staged.pin_inputs)
    spark_remote: str | None = None  # the notebooks' Spark Connect endpoint; None: local sessions
    fingerprints: dict = field(default_factory=dict)  # notebook -> freshness fingerprint
    halt: Halt = field(default_factory=Halt)


def _shown(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path, base) if path.is_relative_to(base) else str(path)
    except ValueError:
        return str(path)


# -- the batch -----------------------------------------------------------------

def _run_one(notebook: Path, batch: Batch, progress: Progress, kernels: KernelPool) -> Result:
    executed = batch.executed_dir / notebook.name
    context = RunContext(notebook=notebook.stem, spark_remote=batch.spark_remote, pin=batch.pin)
    result = run_notebook(notebook, executed, batch.params, progress, kernels,
                          _shown(executed, batch.shown_from), batch.fingerprints[notebook.stem],
                          batch.timeout, context)
    if result.status == Status.FAILED:
        batch.halt.after(result.error, batch.params.output_dir)
    elif result.status == Status.OK:
        _render_page(executed)
        result.fingerprints = output_fingerprints(batch.params.output_dir, notebook.stem)
    return result


def _render_page(executed: Path) -> None:
    """Render the notebook's report page now, while others still run, so the
    report at the end only copies it. A failure here is left to the report,
    which renders the page again and says what went wrong."""
    from lib.suite.report import render_page

    try:
        render_page(executed)
    except Exception:  # noqa: BLE001 - the report renders it again
        pass


def _up_to_date(batch: Batch, force: bool) -> dict[str, Result]:
    """The notebooks whose outputs are current (:mod:`lib.suite.freshness`)."""
    if force:
        return {}
    current = {}
    for nb in batch.notebooks:
        executed = batch.executed_dir / nb.name
        if stale_reason(nb, executed, batch.params, batch.fingerprints[nb.stem]) is None:
            current[nb.stem] = Result(name=nb.stem, status=Status.UP_TO_DATE,
                                      outputs=recorded_outputs(nb, batch.params),
                                      executed=_shown(executed, batch.shown_from))
    return current


def start_order(notebooks: list[Path], input_bytes: int) -> list[Path]:
    """The order the notebooks after 00 start in (see :data:`LONGEST`);
    results are reported in notebook order all the same."""
    if input_bytes >= LONGEST_FIRST_BELOW_BYTES:
        return list(notebooks)

    def rank(notebook: Path) -> int:
        number = notebook.stem.split("_", 1)[0]
        return LONGEST.index(number) if number in LONGEST else len(LONGEST)

    return sorted(notebooks, key=rank)  # stable: the others keep notebook order


def _input_bytes(batch: Batch) -> int:
    """Bytes of the pinned inputs the batch reads."""
    return sum(version[0] for version in batch.pin.get("inputs", {}).values())


def _run_batch(batch: Batch, progress: Progress, current: dict[str, Result],
               kernels: KernelPool | None) -> tuple[list[Result], bool]:
    """00 first, then the rest (in :func:`start_order`) up to ``jobs`` at
    once, from the moment the pinned inputs are staged (00 stages them, then
    goes on to its quality report); notebooks already up to date are
    reported, not run. Returns the results in notebook order and whether the
    run was interrupted."""
    for result in current.values():
        progress.skipped(result)
    to_run = [nb for nb in batch.notebooks if nb.stem not in current]
    first = [nb for nb in to_run if nb.name.startswith(FIRST + "_")]
    rest = start_order([nb for nb in to_run if nb not in first], _input_bytes(batch))
    results, interrupted = run_batch([first, rest], batch.jobs,
                                     lambda nb: _run_one(nb, batch, progress, kernels), progress,
                                     batch.halt, lambda: is_staged(batch.params, batch.pin))
    ran = {r.name: r for r in results}
    return [current.get(nb.stem) or ran[nb.stem] for nb in batch.notebooks], interrupted


# -- Spark for the batch ---------------------------------------------------------

def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _build_report(batch: Batch, results: list[Result], run_info: dict, review,
                  share_key_file: str | None = None) -> str | None:
    from lib.suite.report import build_report

    try:
        index = build_report(batch.params.output_dir, results=results, run_info=run_info,
                             review=review and review.record, share_key_file=share_key_file)
    except Exception as error:  # noqa: BLE001 - the run's outputs stand without it
        text = f"{type(error).__name__}: {error}"
        print(f"report: FAILED to build: {named_failure(text, batch.params.output_dir) or text}",
              file=sys.stderr)
        return None
    return _shown(index, batch.shown_from)


def _prepare(args: argparse.Namespace, user_cwd: Path) -> Batch:
    """Everything checked before any Spark starts (raises TicketInsightsError):
    parameters, input files, notebooks, jobs."""
    params = make_params(args.data_dir, args.output_dir, args.as_of_date,
                         args.season_start_month, base_dir=user_cwd)
    check_input_files(params.tickets_path, params.customers_path)  # no Spark needed
    notebooks = select((user_cwd / args.notebooks_dir).resolve(), args.only)
    jobs = parallel_jobs(args.jobs, not args.no_shared_session)
    input_bytes = sum(path.stat().st_size for path in (params.tickets_path, params.customers_path))
    timeout = notebook_timeout(args.timeout, input_bytes)
    read_compare_to(args.compare_to, user_cwd)  # a wrong path stops the run here
    return Batch(params, notebooks, jobs, timeout, params.output_dir / "notebooks", user_cwd)


def _summarise(batch: Batch, results: list[Result], seconds: float) -> list[Result]:
    failed = [r for r in results if not r.ok]
    print()
    print(summary_table(results))
    print(f"\n{len(results)} notebook(s): {len(results) - len(failed)} ok, {len(failed)} not ok, "
          f"in {seconds:.1f} s. Executed notebooks: {_shown(batch.executed_dir, batch.shown_from)}/")
    if batch.halt.reason:
        not_run = sum(r.status == Status.NOT_RUN for r in results)
        skipped = f" ({not_run} notebook(s) not run)" if not_run else ""
        print(f"error: the run stopped{skipped}: {batch.halt.reason}", file=sys.stderr)
    for path in changed_inputs(batch.pin):
        print(f"note: {path} changed during the run; every output of this run is from the "
              "version it started with: run again to use the new one", file=sys.stderr)
    return failed


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv, __doc__.split("\n\n")[0])
    user_cwd = Path.cwd()
    for sig in (signal.SIGTERM, signal.SIGHUP):  # clean up as for Ctrl-C, from the start
        signal.signal(sig, _raise_interrupt)
    try:
        return _main(args, user_cwd)
    except KeyboardInterrupt:  # before the batch started: nothing to stop yet
        print("\nInterrupted.", file=sys.stderr)
        return 130


def _main(args: argparse.Namespace, user_cwd: Path) -> int:
    try:
        batch = _prepare(args, user_cwd)
    except TicketInsightsError as error:
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    if args.dry_run:  # no lock, no Spark, nothing written
        return dry_run(batch.notebooks, batch.params, batch.executed_dir, args.force)
    try:
        with output_dir_lock(batch.params.output_dir):
            return _run_locked(batch, args, user_cwd)
    except TicketInsightsError as error:  # another run holds the folder
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if named_failure(str(error), batch.params.output_dir) != disk_full(batch.params.output_dir):
            raise
        print(f"error: {disk_full(batch.params.output_dir)}", file=sys.stderr)
        return 1


def _pin_batch(batch: Batch) -> Batch:
    """The staged version and each notebook's freshness fingerprint, taken
    together from the inputs as they are now (raises if they moved meanwhile)."""
    params = batch.params
    pin = pin_inputs(params)
    fingerprints = {nb.stem: run_fingerprint(nb, params) for nb in batch.notebooks}
    changed = changed_inputs(pin)
    if changed:
        raise TicketInsightsError(f"{changed[0]} changed while the run started; run again "
                                  "once it is no longer being written")
    return replace(batch, pin=pin, fingerprints=fingerprints)


def _shared_server(args: argparse.Namespace, java_options: tuple[str, ...]):
    """The shared server this run leases: a running ``make lab``'s, or a warm
    one (:mod:`lib.suite.warm_lease`), so another's exit does not stop it
    under the batch; None when the run starts its own, sessions are not
    shared, or the caller chose a Spark (``SPARK_REMOTE``, or ``SPARK_MASTER``
    for the runner's own server). ``chosen.lease.stop()`` releases it."""
    if args.no_shared_session or any(os.environ.get(name, "").strip()
                                     for name in ("SPARK_REMOTE", "SPARK_MASTER")):
        return None
    from lib.suite.shared_server import default_state_file
    from lib.suite.warm_lease import lease_shared_server

    state_file = args.server_state.expanduser().resolve() if args.server_state \
        else default_state_file()
    return lease_shared_server(state_file, args.keep_warm, java_options)


def _kernel_environment() -> dict[str, str]:
    """The kernels' environment: the runner's, without what names a Spark or a
    notebook (each notebook gets those in its run context)."""
    return without_spark(os.environ, "JPY_SESSION_NAME")


def _run_locked(batch: Batch, args: argparse.Namespace, user_cwd: Path) -> int:
    batch = _pin_batch(batch)
    params, jobs = batch.params, batch.jobs
    remove_stale_scratch(params, keep_staged=batch.pin["fingerprint"])
    batch.executed_dir.mkdir(parents=True, exist_ok=True)
    print(f"Ticket insights: {len(batch.notebooks)} notebook(s); data "
          f"{_shown(params.data_dir, user_cwd)} -> {_shown(params.output_dir, user_cwd)}; "
          f"as_of_date {params.as_of_date}; season_start_month {params.season_start_month}",
          flush=True)
    began, began_utc = time.monotonic(), dt.datetime.now(dt.UTC)
    server = kernels = watch = chosen = None
    try:
        current = _up_to_date(batch, args.force)
        to_run = len(batch.notebooks) - len(current)
        if to_run:  # kernels start and warm up while the Spark server starts
            threading.Thread(target=load_notebook_tools, name="load-tools", daemon=True).start()
            kernels = KernelPool(params.output_dir / "logs", total=to_run, ahead=jobs,
                                 cwd=PROJECT_ROOT, env=_kernel_environment(),
                                 reuse=not args.no_shared_session).start()
            log = params.output_dir / "logs" / "connect-server.log"
            input_bytes = _input_bytes(batch)
            java_options = (*server_java_options(input_bytes), *args.server_java_options)
            java_options = (*class_archive.for_server(input_bytes, java_options), *java_options)
            chosen = _shared_server(args, java_options)
            if chosen is not None:
                spark_mode, server, remote = chosen.description, chosen.lease, chosen.lease.url
            else:
                spark_mode, server, remote = spark_for_batch(
                    not args.no_shared_session, log, _shown(log, user_cwd),
                    os.environ.get("SPARK_REMOTE", "").strip() or None, java_options)
            batch = replace(batch, spark_remote=remote)
            kernels.use_remote(remote)
            if server is not None:  # its death stops the batch at once
                watch = ServerWatch(server, batch.halt, lambda: (
                    kernels.abort(batch.halt.reason), kill_kernels())).start()
            print(f"Spark: {spark_mode}; {jobs} notebook(s) at once", flush=True)
        else:
            spark_mode = "none needed: every notebook is up to date (--force re-runs them)"
        progress = Progress(len(batch.notebooks))
        results, interrupted = _run_batch(batch, progress, current, kernels)
        progress.close()
    except KeyboardInterrupt:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # one clean-up, not cut short by a second signal
        print("\nInterrupted.", file=sys.stderr)
        return 130
    except TicketInsightsError as error:  # e.g. no Java, or the server did not start
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    finally:
        if watch is not None:
            watch.close()
        if kernels is not None:
            kernels.close()
            kill_kernels()  # any still starting
        if server is not None:
            server.stop()
        remove_stale_scratch(params, keep_staged=batch.pin["fingerprint"])  # e.g. a killed write
    seconds = time.monotonic() - began
    failed = _summarise(batch, results, seconds)
    if chosen is not None and chosen.warm:
        from lib.suite.warm_lease import stays_warm_note

        print(stays_warm_note(chosen), flush=True)
    hung = any(t.name.startswith("notebook") and t.is_alive() for t in threading.enumerate())
    if interrupted:
        sys.stdout.flush()
        sys.stderr.flush()
        if hung:
            os._exit(130)  # a notebook thread still hangs on its dead kernel: do not wait
        return 130
    review = review_or_warn(params, results, RunFacts(
        began_utc, spark_mode, jobs, args.only, args.force, batch.pin["fingerprint"]),
        args.compare_to, user_cwd)
    report = None
    if not args.no_report:
        try:
            report = _build_report(batch, results, {
                "spark": spark_mode, "jobs": jobs, "seconds": round(seconds, 1),
            }, review, share_key_file(args))
        except KeyboardInterrupt:
            return 130
        if report:
            print(f"Report: {report}")
            if args.share:
                print(f"Shareable report: {_shown(batch.params.output_dir, user_cwd)}/report-share.zip")
    code = batch.halt.exit_code if batch.halt.reason else (
        1 if failed or (report is None and not args.no_report) else 0)
    if review is not None:
        code = review.exit_code(code, args.fail_on_drift)
        review.keep(params.output_dir, code, args.keep_runs)
    if hung:  # a notebook given up after its Spark server died
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
