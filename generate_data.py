"""Generate realistic, deliberately messy inputs for the ticket-insights pipeline.

Writes ``<out>/tickets.csv`` (pipe-delimited orders) and ``<out>/customer.json``
(JSON Lines customers) in the format of docs/contract.md §1. A share of records
(``--dirty-rate``) is bad in every way docs/contract.md §2 rejects, and some harmless
mess is added that must clean fine: padded fields, odd-case month names, blank
lines, formula-injection bait, quotes, commas and non-ASCII text in names and venues.

Usage::

    python generate_data.py                   # 2,000 customers, 10,000 orders -> data/
    python generate_data.py --orders 10000000 --customers 500000 --out /tmp/big

``--customers`` is the number of clean customers (ids 1..N, about 10% never order);
bad customer records come on top. Fixtures of a 20-club league span the four
seasons (1 August start) before the ``--reference-date`` season, that season and
the next. The same flags give byte-identical files, whatever ``--workers`` is:
rows are made in fixed chunks, each from its own RNG seeded by (seed, chunk).
Files are written under temporary names and renamed when complete.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
import unicodedata
from collections import deque
from datetime import date

import numpy as np

CHUNK = 100_000  # rows per RNG chunk; fixed so output never depends on the workers
HEADER = "order_id|customer_id|event_name|event_date|venue|purchase_ts|quantity|net_sales"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
CLUBS = [
    ("Harbour City", "Harbour City Stadium"), ("Northgate Rovers", "Northgate Park"),
    ("Millbrook Town", '"The Den", Millbrook'), ("Eastwick Athletic", "Eastwick Road"),
    ("Kingsmead United", "Kingsmead Arena"), ("Ashford Vale", "Vale Park"),
    ("Redcastle Albion", "Castle Lane"), ("Westbury Wanderers", "Westbury Meadow"),
    ("St. Aldhelm's", "St. Aldhelm's Ground"), ("Porthaven County", "Parc y Dôl"),
    ("Oakley Forest", "Forest Lodge"), ("Bramhall Borough", "Borough Park, Bramhall"),
    ("Stonebridge City", "Stonebridge Community Stadium"), ("Lowther Harriers", "The Nest"),
    ("Fenwick Rangers", "Fenwick Sports Ground"), ("Calder Valley", "Calder Mill"),
    ("Thornbury Swifts", "Swifts Lane"), ("Whitecliff Town", "Cliff Top Stadium"),
    ("Glenmore Celtic", "Glenmore Park"), ("Sutton Rise", "Rise Stadium"),
]
FIRST = [
    "James", "Oliver", "Jack", "Harry", "George", "Thomas", "William", "Daniel", "Samuel",
    "Joseph", "David", "Michael", "Matthew", "Ryan", "Liam", "Callum", "Ethan", "Lewis",
    "Owen", "Rhys", "Jamie", "Adam", "Ben", "Peter", "Paul", "Mark", "Olivia", "Amelia",
    "Isla", "Emily", "Sophie", "Grace", "Jessica", "Lucy", "Ella", "Chloe", "Hannah",
    "Charlotte", "Megan", "Ruby", "Holly", "Emma", "Sarah", "Laura", "Rebecca", "Rachel",
    "Claire", "Katie", "Jane", "Anna", "Helen"
]
LAST = [
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
    "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood",
    "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King",
    "Baker", "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis",
    "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook",
    "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy"
]
FIRST_ODD = ["Zoë", "Siân", "Seán", "Niamh", "Aoife", "Chloé", "Dafydd", "Ffion",
             '=HYPERLINK("http://example.com","x")', "+Tom", "@Sam", "-Jo", 'Robert "Bob"']
LAST_ODD = ["O'Brien", "Smith, Jr", "-Smith", "D'Arcy", "Brontë", "Ó Súilleabháin",
            "Davies-Jones", "@Jones", "+Taylor", "=1+2", 'Jones "The Boot"', "Müller"]
TITLES = {"Mr": 33, "Mrs": 17, "Ms": 11, "Miss": 9, "Dr": 4, "Prof": 1, "Mx": 1, "Rev": 1,
          " MRS. ": 1, "mr": 2, "MR": 1, "Mr.": 2, "dr": 1, "Dr..": 0.5, "miss ": 1, "  Ms": 1,
          "": 1.5, None: 1.5, "<absent>": 1.5}
AREAS = [
    "SW", "SE", "N", "E", "W", "NW", "M", "B", "LS", "BS", "CF", "EH", "G", "L", "NE", "S",
    "NG", "OX", "CB", "BN", "PL", "EX", "YO", "HU", "LE", "CV", "DE", "ST", "SA", "AB"
]
INWARD = "ABDEFGHJLNPQRSTUWXYZ"
DOMAINS = ["example.com", "example.co.uk", "example.org", "example.net"]
# event_date formats: four canonical ones, then odd-case month variants of the MMM two
FORMAT_P = [0.245] * 4 + [0.005] * 4
QTY_P = np.array([0.30, 0.38, 0.11, 0.16] + [0.05 / (k - 3) ** 1.5 for k in range(5, 21)])
QTY_P /= QTY_P.sum()
SEASON_END_P = [0.06, 0.08, 0.10, 0.16, 0.35, 0.25]  # season of a customer's last event


def _fmt_dates(o: int) -> list[str]:
    d = date.fromordinal(o)
    dd, mm, mon, y = f"{d.day:02d}", f"{d.month:02d}", MONTHS[d.month - 1], d.year
    return [f"{dd}-{mon}-{y}", f"{mon}-{dd}-{y}", d.isoformat(), f"{dd}/{mm}/{y}",
            f"{dd}-{mon.lower()}-{y}", f"{dd}-{mon.upper()}-{y}",
            f"{mon.lower()}-{dd}-{y}", f"{mon.upper()}-{dd}-{y}"]


def build_fixtures(rng: np.random.Generator, ref: date):
    """Double round robin per season; returns event pool, days, prices, season-block cdf."""
    sy0 = (ref.year if ref.month >= 8 else ref.year - 1) - 4
    pop = rng.lognormal(0.0, 0.5, len(CLUBS))
    base = rng.integers(30, 111, len(CLUBS)) * 50  # £15.00-£55.00 home base price
    pool, days, prices, cdf = [], [], [], []
    for s in range(6):
        y = sy0 + s
        cand = np.arange(date(y, 8, 8).toordinal(), date(y + 1, 5, 21).toordinal())
        wd = np.array([0.2, 1, 1, 0.2, 0.3, 6, 2])[(cand - 1) % 7]  # Mon..Sun: mostly Saturdays
        pairs = [(h, a) for h in range(len(CLUBS)) for a in range(len(CLUBS)) if h != a]
        picks = rng.choice(cand, len(pairs), p=wd / wd.sum())
        weight = np.array([pop[h] * pop[a] ** 0.5 for h, a in pairs])
        big = rng.random(len(pairs)) < 0.1
        for (h, a), o, b in zip(pairs, picks.tolist(), big.tolist(), strict=True):
            name, venue = f"{CLUBS[h][0]} v {CLUBS[a][0]}", CLUBS[h][1]
            pool.extend(f"{name}|{t}|{venue}" for t in _fmt_dates(o))
            days.append(o)
            price = base[h] * (1.5 if b else 1.0) * 1.03 ** s
            prices.append(int(min(8500, max(1500, round(price / 50) * 50))))
        c = np.cumsum(weight) / weight.sum()
        c[-1] = 1.0
        cdf.append(s + c)
    return pool, np.array(days), np.array(prices), np.concatenate(cdf)


def customer_plan(seed: int, n: int, rate: float):
    """Where bad customer records go (insert before clean line p), their kind and a variant."""
    rng = np.random.default_rng([seed, 2])
    d = round(n * rate)
    kinds = rng.permutation(np.resize(np.arange(4), d))  # 0 trunc, 1 non-object, 2 bad id, 3 dup
    pos = np.sort(rng.integers(1, n + 1, d)) if n else np.zeros(0, int)
    return pos, kinds, rng.integers(0, 2**31, d), rng.permutation(np.arange(1, n + 1))


class World:
    """Everything a ticket chunk needs; built once in the parent, shared with workers."""

    def __init__(self, a: argparse.Namespace):
        rng = np.random.default_rng([a.seed, 1])
        self.seed, self.orders, self.rate = a.seed, a.orders, a.dirty_rate
        self.ref = a.reference_date.toordinal()
        self.pool, self.fx_day, self.fx_price, self.fx_cdf = build_fixtures(rng, a.reference_date)
        n = a.customers
        n_ord = max(1, round(0.9 * n)) if n else 0
        self.ord_ids = np.sort(rng.permutation(np.arange(1, n + 1))[:n_ord])
        self.ord_b = rng.choice(6, n_ord, p=SEASON_END_P)
        self.ord_a = (rng.random(n_ord) * (self.ord_b + 1)).astype(np.int64)
        self.ord_cum = np.cumsum(rng.gamma(0.8, 1.0, n_ord) + 0.05)
        self.cover = rng.permutation(n_ord)  # the first n_ord orders give everyone one order
        kinds = customer_plan(a.seed, n, a.dirty_rate)[1]
        rejected = n + 1 + np.arange(int((kinds == 0).sum()))  # ids of truncated records
        never = n + len(rejected) + 1 + rng.integers(0, 10**6, max(5, len(rejected)))
        self.unknown = [str(x) for x in np.concatenate([rejected, never]).tolist()]
        self.day0 = int(self.fx_day.min()) - 400
        self.days = [date.fromordinal(o).isoformat() + " "
                     for o in range(self.day0, int(self.fx_day.max()) + 1)]
        self.times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
        self.frac = [f"{c:02d}" for c in range(100)]


def _bad_field(f: list[str], kind: int, v: int, unknown: list[str]) -> str:
    """Spoil one row (fields f) so it is rejected for reason `kind` (see TICKET_KINDS)."""
    y, ts = f[5][:4], f[5]
    if kind == 0:  # malformed_row: too few fields
        return "|".join(f[: 3 + v % 5])
    if kind == 1:  # malformed_row: too many fields
        f[4] += ("|North Stand", "|")[v % 2]
    elif kind == 2:
        f[0] = ("", "   ")[v % 2]
    elif kind == 3:
        f[1] = ["abc", "0", "-5", "12.5", "", "1e3", "#N/A"][v % 7]
    elif kind == 4:
        f[2] = ("", "  ")[v % 2]
    elif kind == 5:
        f[3] = [f"31-Feb-{y}", f"30/02/{y}", "TBC", f"1-Aug-{y}", f"{y}/08/12", f"{y}-8-5",
                f"12-08-{y}", "29-Feb-2023", f"Sept-12-{y}"][v % 9]
    elif kind == 6:
        f[5] = [f"{y}-13-01 10:00:00", "yesterday", ts[:16], f"{y}-02-30 12:00:00",
                ts[:11] + "25:10:00", "", ts[:10]][v % 7]
    elif kind == 7:
        f[6] = ["0", "-2", "two", "1.5", "", "3 tickets"][v % 6]
    elif kind == 8:
        f[7] = ["-10.00", "abc", "", "£12.00", "12,50", "N/A"][v % 6]
    elif kind == 9:
        f[1] = unknown[v % len(unknown)]
    return "|".join(f)


TICKET_KINDS = ["malformed_row", "malformed_row", "missing_order_id", "invalid_customer_id",
                "missing_event_name", "invalid_event_date", "invalid_purchase_ts",
                "invalid_quantity", "invalid_net_sales", "unknown_customer", "duplicate_order_id"]
_W: World | None = None


def _init(world: World) -> None:
    global _W
    _W = world


def _spoil(rng: np.random.Generator, lines: list[str], w: World) -> None:
    """Apply dirt, harmless padding and blank lines to a chunk's lines, in place."""
    n = len(lines)
    dirty = rng.random(n) < w.rate
    dirty[0] = False
    pos = np.flatnonzero(dirty)
    kinds = rng.permutation(np.resize(np.arange(len(TICKET_KINDS)), len(pos)))
    vs = rng.integers(0, 2**31, len(pos)).tolist()
    good = np.flatnonzero(~dirty)
    n_before = np.searchsorted(good, pos).tolist()
    for i, k, v, nb in zip(pos.tolist(), kinds.tolist(), vs, n_before, strict=True):
        if k == 10:  # re-send an earlier clean row: exact, or with another quantity
            f = lines[good[v % nb]].split("|")
            if v % 3 == 0:
                f[6] = str(int(f[6]) % 4 + 1)
            lines[i] = "|".join(f)
        else:
            lines[i] = _bad_field(lines[i].split("|"), k, v, w.unknown)
    pad = np.flatnonzero((rng.random(n) < w.rate) & ~dirty).tolist()
    for i, v in zip(pad, rng.integers(0, 2**31, len(pad)).tolist(), strict=True):
        f = lines[i].split("|")
        j = (1, 2, 3, 4, 6, 7)[v % 6]
        f[j] = (" " + f[j], f[j] + "  ", "  " + f[j] + " ")[v // 6 % 3]
        lines[i] = "|".join(f)
    for i in np.flatnonzero(rng.random(n) < w.rate / 5).tolist():
        lines[i] = "\n" + lines[i]


def ticket_chunk(k: int) -> bytes:
    """Rows [k*CHUNK, (k+1)*CHUNK) of tickets.csv as UTF-8 bytes (newline-terminated)."""
    w = _W
    start = k * CHUNK
    n = min(CHUNK, w.orders - start)
    rng = np.random.default_rng([w.seed, 3, k])
    cust = np.searchsorted(w.ord_cum, rng.random(n) * w.ord_cum[-1], side="right")
    cust = np.minimum(cust, len(w.ord_cum) - 1)
    gidx = np.arange(start, start + n)
    cover = gidx < len(w.cover)
    cust[cover] = w.cover[gidx[cover]]
    a, b = w.ord_a[cust], w.ord_b[cust]
    season = a + (rng.random(n) * (b - a + 1)).astype(np.int64)
    fx = np.searchsorted(w.fx_cdf, season + rng.random(n), side="right")
    ev = fx * 8 + rng.choice(8, n, p=FORMAT_P)
    qty = rng.choice(len(QTY_P), n, p=QTY_P) + 1
    gross = qty * w.fx_price[fx]
    disc = np.where(rng.random(n) < 0.12, gross * rng.choice([10, 15, 20, 25], n) // 100, 0)
    net = gross - disc
    ev_day = w.fx_day[fx]
    pday = ev_day - rng.integers(1, 91, n)
    late = pday > w.ref  # future events: bought in advance, on or before the reference date
    pday[late] = w.ref - rng.integers(0, 60, int(late.sum()))
    secs = rng.integers(7 * 3600, 86400, n)
    pool, days, times, frac = w.pool, w.days, w.times, w.frac
    lines = [
        f"ORD-{o + 1:08d}|{c}|{pool[e]}|{days[d]}{times[s]}|{q}|{x}.{frac[p]}"
        for o, c, e, d, s, q, x, p in zip(
            range(start, start + n), w.ord_ids[cust].tolist(), ev.tolist(),
            (pday - w.day0).tolist(), secs.tolist(), qty.tolist(),
            (net // 100).tolist(), (net % 100).tolist(), strict=True)
    ]
    _spoil(rng, lines, w)
    return ("\n".join(lines) + "\n").encode()


def _chunks(world: World, workers: int):
    n_chunks = -(-world.orders // CHUNK)
    if workers <= 1 or n_chunks <= 1:
        _init(world)
        yield from (ticket_chunk(k) for k in range(n_chunks))
        return
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else None)
    with ctx.Pool(workers, initializer=_init, initargs=(world,)) as pool:
        pending: deque = deque()
        for k in range(n_chunks):  # bounded look-ahead keeps memory flat
            pending.append(pool.apply_async(ticket_chunk, (k,)))
            if len(pending) > 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _slug(s: str) -> str:
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in s if ch.isalnum()) or "fan"


def _names(pool: list[str], odd: list[str]):
    names = pool + odd
    p = np.array([1.0] * len(pool) + [0.015 * len(pool) / len(odd)] * len(odd))
    enc = [json.dumps(x, ensure_ascii=False) for x in names]
    padded = [json.dumps(f" {x} ", ensure_ascii=False) for x in names]
    return enc, padded, [_slug(x) for x in names], p / p.sum()


FIRST_J, FIRST_PAD, FIRST_SLUG, _ = _names(FIRST, FIRST_ODD)
LAST_J, LAST_PAD, LAST_SLUG, LAST_P = _names(LAST, LAST_ODD)
TITLE_PART = ["" if t == "<absent>" else f'"Customer Title": {json.dumps(t)}, ' for t in TITLES]
TITLE_P = np.array(list(TITLES.values())) / sum(TITLES.values())
N_MALE = FIRST.index("Olivia")  # FIRST lists male names, then female ones
_SEX = {"mr": 0, "mrs": 1, "ms": 1, "miss": 1}  # 2: any first name
TITLE_SEX = np.array([_SEX.get((t or "").strip(" .").lower(), 2) for t in TITLES])


def customer_records(rng: np.random.Generator, ids: list[str | None]) -> list[str]:
    """JSON lines for customers with the given CustomerIdentity texts (None: key absent)."""
    n = len(ids)
    ti = rng.choice(len(TITLE_PART), n, p=TITLE_P).tolist()
    sex = TITLE_SEX[ti]
    span = np.array([N_MALE, len(FIRST) - N_MALE, len(FIRST)])[sex]
    fi = np.array([0, N_MALE, 0])[sex] + (rng.random(n) * span).astype(np.int64)
    odd = rng.random(n) < 0.015
    fi[odd] = len(FIRST) + rng.integers(0, len(FIRST_ODD), int(odd.sum()))
    li = rng.choice(len(LAST_J), n, p=LAST_P)
    pad = (rng.random(n) < 0.01).tolist()
    num, dom = rng.integers(0, 100, n).tolist(), rng.integers(0, len(DOMAINS), n).tolist()
    ph = rng.integers(0, 10**9, n).tolist()
    pc = rng.integers(0, 10**6, n).tolist()
    contact = rng.choice(3, n, p=[0.95, 0.025, 0.025]).tolist()
    out = []
    for j in range(n):
        f, la, p, c = int(fi[j]), int(li[j]), ph[j], pc[j]
        r, mid, end = p % 20, 400 + p % 600, p // 1000 % 10**6  # mobiles 074xx-079xx
        phone = f"07{mid:03d} {end:06d}" if r < 16 else (
            f"+44 7{mid:03d} {end:06d}" if r < 19 else f"020 7946 {p % 10000:04d}")
        post = (f"{AREAS[c % len(AREAS)]}{c // 100 % 20 + 1} {c // 2000 % 10}"
                f"{INWARD[c % 20]}{INWARD[c // 20 % 20]}")
        cd = "null" if contact[j] == 2 else f'"{phone}"'  # 1: no contact_details at all
        tail = "" if contact[j] == 1 else (
            f', "contact_details": {{"phone": {cd}, "postcode": "{post}"}}')
        email = f"{FIRST_SLUG[f]}.{LAST_SLUG[la]}{num[j] if num[j] > 60 else ''}@{DOMAINS[dom[j]]}"
        first, last = (FIRST_PAD, LAST_PAD) if pad[j] else (FIRST_J, LAST_J)
        head = "" if ids[j] is None else f'"CustomerIdentity": {ids[j]}, '
        out.append(f'{{{head}{TITLE_PART[ti[j]]}"First Name": {first[f]}, '
                   f'"Last Name": {last[la]}, "Email": "{email}"{tail}}}')
    return out


def _bad_customer(rng, kind: int, v: int, trunc_id: int, earlier_id: int) -> str:
    if kind == 0:  # truncated line of a customer that therefore does not exist
        line = customer_records(rng, [str(trunc_id)])[0]
        return line[: 30 + v % (len(line) - 31)]
    if kind == 1:
        return ['[1, 2, 3]', '"customer"', "42", "null", "not json", "true", "[]"][v % 7]
    if kind == 2:
        return customer_records(rng, [[None, '"abc"', "0", "-3", "null", "12.5"][v % 6]])[0]
    return customer_records(rng, [str(earlier_id)])[0]  # a later record reusing an id


def write_customers(fh, seed: int, n: int, rate: float) -> int:
    """Write customer.json in blocks of CHUNK clean records, bad ones slotted in; count lines."""
    pos, kinds, vs, order = customer_plan(seed, n, rate)
    bad_at = np.searchsorted(pos, np.arange(0, n + CHUNK, CHUNK))
    trunc_ids = n + np.cumsum(kinds == 0)  # truncated records take ids n+1, n+2, ...
    rows = 0
    for k in range(-(-n // CHUNK)):
        lo, hi = k * CHUNK, min(n, (k + 1) * CHUNK)
        rng = np.random.default_rng([seed, 4, k])
        lines = customer_records(rng, [str(x) for x in order[lo:hi].tolist()])
        last = hi == n
        extra = range(bad_at[k], len(pos) if last else bad_at[k + 1])
        for j in reversed(extra):  # insert from the back so indices stay valid
            v = int(vs[j])
            line = _bad_customer(rng, int(kinds[j]), v, int(trunc_ids[j]),
                                 int(order[v % pos[j]]))
            lines.insert(int(pos[j]) - lo, line)
        fh.write(("\n".join(lines) + "\n").encode())
        rows += len(lines)
    return rows


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--customers", type=int, default=2000, help="clean customers (default 2000)")
    p.add_argument("--orders", type=int, default=10_000, help="ticket rows (default 10000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--reference-date", type=date.fromisoformat, default=date.today(),
                   help="ISO date whose season is 'current' (default today)")
    p.add_argument("--dirty-rate", type=float, default=0.02, help="share of bad records")
    p.add_argument("--out", default="data", help="output directory (default data)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes making ticket rows; never changes the output")
    a = p.parse_args(argv)
    if a.customers < 1 or a.orders < 0 or a.seed < 0 or not 0 <= a.dirty_rate <= 0.5:
        p.error("need --customers >= 1, --orders >= 0, --seed >= 0, 0 <= --dirty-rate <= 0.5")
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    t0 = time.perf_counter()
    os.makedirs(a.out, exist_ok=True)
    final = [os.path.join(a.out, "tickets.csv"), os.path.join(a.out, "customer.json")]
    tmp = [f"{p}.tmp-{os.getpid()}" for p in final]
    big = a.orders >= 1_000_000
    try:
        with open(tmp[1], "wb") as fh:
            n_cust = write_customers(fh, a.seed, a.customers, a.dirty_rate)
        world = World(a)
        step, done, next_pct = max(1, a.orders // 10), 0, 10
        with open(tmp[0], "wb") as fh:
            fh.write((HEADER + "\n").encode())
            for data in _chunks(world, a.workers):
                fh.write(data)
                done = min(a.orders, done + CHUNK)
                while big and done >= step * next_pct // 10 and next_pct <= 100:
                    print(f"tickets: {next_pct}% ({done:,} rows, {time.perf_counter() - t0:.1f} s)",
                          file=sys.stderr)
                    next_pct += 10
            fh.write(b"\n")  # a trailing blank line
        for t, f in zip(tmp, final, strict=True):
            os.replace(t, f)
    finally:
        for t in tmp:
            if os.path.exists(t):
                os.remove(t)
    print(f"wrote {a.orders:,} ticket rows and {n_cust:,} customer records to {a.out} "
          f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
