"""The warm kernel pool with real kernels: a kernel whose notebook succeeded
runs the next one with nothing of the first left but its imports; a failed
one is replaced; each notebook's log holds its own output only."""

from __future__ import annotations

import base64
import os

import pytest

from lib.config import PROJECT_ROOT
from lib.suite.kernel_pool import KernelPool, kill_kernels


def _run(pool: KernelPool, km, code: str) -> dict:
    """Run ``code`` in the kernel as a notebook cell would; the reply's content
    and the ``text/plain`` of its last expression."""
    async def execute():
        client = km.client()
        client.start_channels()
        outputs = []
        try:
            await client.wait_for_ready(timeout=60)
            reply = await client.execute_interactive(
                code, timeout=60, output_hook=lambda msg: outputs.append(msg["content"]))
        finally:
            client.stop_channels()
        text = [o["data"]["text/plain"] for o in outputs if "data" in o]
        return {**reply["content"], "text": text[-1] if text else None,
                "images": [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]}

    return pool._call(execute())


@pytest.fixture
def pool(tmp_path):
    made = []

    def make(total: int, ahead: int, reuse: bool) -> KernelPool:
        made.append(KernelPool(tmp_path / "logs", total=total, ahead=ahead, cwd=PROJECT_ROOT,
                               env=dict(os.environ), reuse=reuse).start())
        return made[-1]

    yield make
    for each in made:
        each.close()
    kill_kernels()


def _pid(pool: KernelPool, km) -> str:
    return _run(pool, km, "import os; os.getpid()")["text"]


def test_a_kernel_whose_notebook_succeeded_runs_the_next_one_reset(pool, tmp_path):
    kernels = pool(total=2, ahead=1, reuse=True)
    km = kernels.take(tmp_path / "logs" / "01.log")
    first_pid = _pid(kernels, km)
    _run(kernels, km, "left_over = 42\nimport os; os.write(2, b'first notebook\\n')")
    kernels.release(km, reuse=True)

    again = kernels.take(tmp_path / "logs" / "02.log")
    assert _pid(kernels, again) == first_pid  # the same process, imports kept
    reply = _run(kernels, again, "'left_over' in globals()")
    assert reply["text"] == "False"
    assert reply["execution_count"] == 2  # counted from 1 again: the pid cell was 1
    _run(kernels, again, "import os; os.write(2, b'second notebook\\n')")
    kernels.release(again, reuse=True)  # none to come: shut down

    first_log = (tmp_path / "logs" / "01.log").read_text()
    second_log = (tmp_path / "logs" / "02.log").read_text()
    assert "first notebook" in first_log and "second notebook" not in first_log
    assert "second notebook" in second_log and "first notebook" not in second_log
    assert not list((tmp_path / "logs").glob(".kernel-*"))  # the kernel's own log is gone


CHART_CELL = """import matplotlib.pyplot as plt
from lib.config import make_params
from lib.manifest import Recorder, TrackedParams
from lib.notebook import Context, save_chart

params = TrackedParams(make_params("data", {output!r}, "2026-11-01", 8))
ctx = Context(params=params, spark=None, staged=None, recorder=Recorder(None, params))
fig, ax = plt.subplots()
ax.bar([1, 2, 3], [3, 1, 2])
save_chart(fig, ctx, "bars")
plt.get_fignums()"""


def test_a_chart_cell_shows_the_png_it_wrote_and_leaves_no_figure_to_draw_again(pool, tmp_path):
    kernels = pool(total=1, ahead=1, reuse=True)
    km = kernels.take(tmp_path / "logs" / "01.log")
    (tmp_path / "out" / "charts").mkdir(parents=True)
    reply = _run(kernels, km, CHART_CELL.format(output=str(tmp_path / "out")))
    assert reply["status"] == "ok"
    written = (tmp_path / "out" / "charts" / "bars.png").read_bytes()
    assert reply["images"] == [base64.b64encode(written).decode()]  # shown once, as written
    assert reply["text"] == "[]"  # closed: the inline backend has nothing to draw again
    kernels.release(km, reuse=True)


def test_a_kernel_whose_notebook_failed_is_replaced_by_a_new_one(pool, tmp_path):
    kernels = pool(total=2, ahead=1, reuse=True)
    km = kernels.take(tmp_path / "logs" / "01.log")
    first_pid = _pid(kernels, km)
    kernels.release(km, reuse=False)
    again = kernels.take(tmp_path / "logs" / "02.log")
    assert _pid(kernels, again) != first_pid
    kernels.release(again, reuse=True)


@pytest.mark.slow  # real kernels; make test keeps reuse and replacement
def test_without_reuse_every_notebook_gets_a_kernel_of_its_own(pool, tmp_path):
    kernels = pool(total=2, ahead=1, reuse=False)
    km = kernels.take(tmp_path / "logs" / "01.log")
    first_pid = _pid(kernels, km)
    kernels.release(km, reuse=True)  # asked, but the pool does not reuse
    again = kernels.take(tmp_path / "logs" / "02.log")
    assert _pid(kernels, again) != first_pid
    kernels.release(again)


@pytest.mark.slow  # real kernels; make test keeps reuse and replacement
def test_kernels_live_at_most_ahead_at_once_with_reuse(pool, tmp_path):
    kernels = pool(total=4, ahead=2, reuse=True)
    taken = [kernels.take(tmp_path / "logs" / f"0{n}.log") for n in (1, 2)]
    pids = {_pid(kernels, km) for km in taken}
    for km in taken:
        kernels.release(km, reuse=True)
    again = [kernels.take(tmp_path / "logs" / f"0{n}.log") for n in (3, 4)]
    assert {_pid(kernels, km) for km in again} == pids  # no third kernel was started
    for km in again:
        kernels.release(km, reuse=True)


@pytest.mark.slow  # real kernels; make test keeps reuse and replacement
def test_closing_the_pool_keeps_the_log_of_a_reset_kernels_first_notebook(pool, tmp_path):
    kernels = pool(total=3, ahead=1, reuse=True)  # e.g. a batch halted after 01
    km = kernels.take(tmp_path / "logs" / "01.log")
    _run(kernels, km, "import os; os.write(2, b'first notebook\\n')")
    kernels.release(km, reuse=True)  # reset and waiting for 02
    kernels.close()
    assert "first notebook" in (tmp_path / "logs" / "01.log").read_text()
