"""Drawing the replay sample from production traffic at its real size: wall time and peak
memory of checking a source and sampling 2,000 requests from it.

    python benchmarks/bench_sampling.py [--rows 5300000] [--big-rows 50000000] [--size 2000]
                                        [--seed 0] [--skip-old] [--skip-big]

The traffic is generated here, deterministically from the seed, by DuckDB into
``benchmarks/.cache/sampling/`` (git-ignored; generated once): a month of the seed deployment
(``--rows``, one zstd Parquet file) and about ten months (``--big-rows``, one file a month in
Hive-style folders ``month=2026-MM/``, read as a glob). Each request has a prompt of a few
hundred characters (sentences of the demo world's vocabulary in the region's language, an order
number and a date, an e-mail address in one of twenty), a system prompt on two of three, six
regions with shares 30/25/15/12/10/8 %, and times spread over the month.

Each measurement runs in a child process of its own: wall time is the call alone (imports
excluded); CPU time is every thread's user + system time over the call (the figure the
machine's other load moves least); peak memory is the child's high-water resident set
(``VmHWM`` of /proc/self/status at its end), interpreter and imports included. (Not
``ru_maxrss``: Linux carries it over from the parent through fork and exec, so a child of a
large parent reads as large as its parent.)

* ``old``: ``read_traffic`` + ``sample_traffic`` as they were before DuckDB read the source
  (pandas; the module is taken from git history, commit ``OLD_COMMIT``);
* ``new``: ``pipeline.data.traffic.read_sample``, every set-wide check included;
* ``duckdb reservoir``: the peer the issue names, DuckDB's own
  ``USING SAMPLE reservoir(2000 ROWS)`` of the file (no checks, no strata).
Targets (issue 20): new <= 5 s and <= 1 GB at 5.3M rows; 50M rows within 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "benchmarks" / ".cache" / "sampling"
OLD_COMMIT = "eeb054d7bb9f9a1afc2731f6343597b3e0760eeb"  # main before issue 20: pandas reading
GENERATOR_VERSION = 1
REGIONS = {"us": 30, "de": 25, "fr": 15, "es": 12, "br": 10, "it": 8}  # % of the traffic
MONTH_SECONDS = 30 * 86400
PHRASES = 4096  # sentences per language that prompts are made of


def generate(path: Path, rows: int, seed: int, month: str) -> None:
    """One month of traffic, ``rows`` requests, as a zstd Parquet file at ``path``."""
    import duckdb

    from pipeline.demo.world import REGION_LANGUAGE, VOCABULARY

    path.parent.mkdir(parents=True, exist_ok=True)
    regions = list(REGIONS)
    bounds, total = [], 0
    for index, share in enumerate(REGIONS.values(), start=1):
        total += share
        bounds.append(f"WHEN h % 100 < {total} THEN {index}")
    words = [VOCABULARY[REGION_LANGUAGE[region]].split() for region in regions]
    conn = duckdb.connect(config={"memory_limit": "2GB", "preserve_insertion_order": True})
    conn.execute("SET VARIABLE words = ?", [words])
    conn.execute("SET VARIABLE regions = ?", [regions])
    conn.execute("SET VARIABLE languages = ?", [[REGION_LANGUAGE[r] for r in regions]])
    conn.execute(f"""
        SET VARIABLE phrases = (SELECT list(sentences ORDER BY r) FROM (
            SELECT r, list(array_to_string(list_transform(
                range((6 + hash(r, k, {seed}) % 10)::BIGINT),
                lambda j: getvariable('words')[r][
                    (1 + hash(r, k, j, {seed}) % len(getvariable('words')[r]))::BIGINT]), ' '))
                AS sentences
            FROM range(1, {len(regions) + 1}) a(r), range({PHRASES}) b(k) GROUP BY r))""")
    conn.execute(f"CREATE MACRO phrase(r, k) AS "
                 f"getvariable('phrases')[r][(1 + k % {PHRASES})::BIGINT]")
    step = MONTH_SECONDS * 1_000_000 // rows
    temporary = path.with_suffix(".partial")
    conn.execute(f"""
        COPY (
            WITH keyed AS (
                SELECT i, hash(i, {seed}, '{month}') AS h, hash(i, {seed} + 1, '{month}') AS g
                FROM range({rows}) t(i)),
            placed AS (SELECT *, CASE {' '.join(bounds)} END AS r FROM keyed)
            SELECT printf('req-{month}-%09d', i) AS request_id,
                TIMESTAMPTZ '{month}-01 00:00:00+00'
                    + to_microseconds((i * {step} + (h >> 40) % {step})::BIGINT) AS ts,
                getvariable('regions')[r] AS region,
                phrase(r, g) || ', ' || phrase(r, g >> 12) || ' (order ORD-'
                    || (h % 9000000 + 1000000) || ', '
                    || strftime(DATE '{month}-01' - ((g >> 24) % 60)::INTEGER, '%d %b') || '). '
                    || phrase(r, g >> 32) || ' ' || phrase(r, g >> 44)
                    || CASE WHEN (g >> 56) % 20 = 0
                            THEN ' Write to me at user' || (h % 100000) || '@example.com.'
                            ELSE '?' END AS prompt,
                CASE WHEN h % 3 = 0 THEN NULL
                     ELSE 'You are the customer support assistant for region '
                          || getvariable('regions')[r] || '. Answer briefly.' END AS system,
                getvariable('languages')[r] AS language,
                (h >> 20) % 50 = 0 AS expects_refusal
            FROM placed ORDER BY i
        ) TO '{temporary}' (FORMAT parquet, COMPRESSION zstd)""")
    conn.close()
    temporary.rename(path)  # last: its presence marks a complete file


def month_file(rows: int, seed: int) -> Path:
    path = CACHE / f"month-{rows}-s{seed}-v{GENERATOR_VERSION}.parquet"
    if not path.exists():
        print(f"generating {rows:,} requests into {path} ...", flush=True)
        generate(path, rows, seed, "2026-11")
    return path


def months_glob(rows: int, seed: int, months: int = 10) -> str:
    folder = CACHE / f"months-{rows}-s{seed}-v{GENERATOR_VERSION}"
    for index in range(months):
        month = f"2026-{index + 1:02d}"
        path = folder / f"month={month}" / "traffic.parquet"
        if not path.exists():
            print(f"generating {rows // months:,} requests into {path} ...", flush=True)
            generate(path, rows // months, seed + index, month)
    return str(folder / "month=*" / "traffic.parquet")


def old_module() -> Path:
    """pipeline/data/traffic.py as it was at ``OLD_COMMIT``, written into the cache."""
    path = CACHE / f"old_traffic_{OLD_COMMIT[:8]}.py"
    if not path.exists():
        text = subprocess.run(["git", "show", f"{OLD_COMMIT}:pipeline/data/traffic.py"],
                              cwd=ROOT, check=True, capture_output=True, text=True).stdout
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path


def measure_in_child(path: str, source: str, size: int, seed: int) -> dict:
    """What the child measured: wall time, peak resident memory, the sample's size."""
    done = subprocess.run([sys.executable, __file__, "--child", path, source, str(size),
                           str(seed)], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"error": f"exit status {done.returncode}: "
                         f"{(done.stderr.strip().splitlines() or [''])[-1][:80]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_resident_gb() -> float:
    """This process's high-water resident set since its exec (VmHWM), in GiB."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 2**20  # kB


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(path: str, source: str, size: int, seed: int) -> None:
    """One measurement: prints a JSON line with the call's wall and CPU time (every thread's,
    the figure that the machine's other load moves least) and what it drew."""
    if path == "old":
        import importlib.util

        spec = importlib.util.spec_from_file_location("old_traffic", old_module())
        old = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(old)
        start, cpu = time.perf_counter(), cpu_seconds()
        sample = old.sample_traffic(old.read_traffic(source), size, seed)
        seconds = time.perf_counter() - start
    elif path == "new":
        from pipeline.data.traffic import read_sample

        start, cpu = time.perf_counter(), cpu_seconds()
        sample = read_sample(source, size, seed).frame
        seconds = time.perf_counter() - start
    else:  # the peer: DuckDB's reservoir sample of the file, nothing checked
        import duckdb

        start, cpu = time.perf_counter(), cpu_seconds()
        sample = duckdb.connect().execute(
            f"SELECT * FROM read_parquet(?) USING SAMPLE reservoir({int(size)} ROWS) "
            f"REPEATABLE ({int(seed)})", [source]).df()
        seconds = time.perf_counter() - start
    by_region = sample["region"].value_counts().sort_index().to_dict()
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds() - cpu,
                      "peak_gb": peak_resident_gb(), "sampled": len(sample),
                      "by_region": by_region}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_300_000)
    parser.add_argument("--big-rows", type=int, default=50_000_000)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-old", action="store_true", help="leave out the pandas path")
    parser.add_argument("--skip-big", action="store_true", help="leave out --big-rows")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]), int(args.child[3]))
        return 0

    month = month_file(args.rows, args.seed)
    runs = [("duckdb reservoir", "reservoir", args.rows, str(month), None),
            ("new: read_sample", "new", args.rows, str(month), (5.0, 1.0))]
    if not args.skip_old:
        old_module()
        runs.insert(1, ("old: pandas", "old", args.rows, str(month), None))
    if not args.skip_big:
        runs.append(("new: read_sample", "new", args.big_rows,
                     months_glob(args.big_rows, args.seed), (None, 4.0)))
    print(f"source: {month.name} ({month.stat().st_size / 1e6:.0f} MB); sample of {args.size}, "
          f"seed {args.seed}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'path':<18} {'rows':>11} {'sampled':>8} {'wall s':>7} {'cpu s':>7} {'peak GB':>8}"
          f"  target            by region")
    met = True
    for name, path, rows, source, target in runs:
        result = measure_in_child(path, source, args.size, args.seed)
        if "error" in result:
            print(f"{name:<18} {rows:>11,} {'-':>8} {'-':>7} {'-':>7} {'-':>8}  "
                  f"{result['error']}")
            met = False
            continue
        verdict = ""
        if target:
            seconds, gigabytes = target
            ok = ((seconds is None or result["seconds"] <= seconds)
                  and result["peak_gb"] <= gigabytes and result["sampled"] == args.size)
            met &= ok
            limits = " ".join(x for x in (seconds and f"<={seconds:g} s", f"<={gigabytes:g} GB")
                              if x)
            verdict = f"{limits} {'met' if ok else 'NOT MET'}"
        print(f"{name:<18} {rows:>11,} {result['sampled']:>8} {result['seconds']:>7.2f} "
              f"{result['cpu_seconds']:>7.2f} {result['peak_gb']:>8.2f}  {verdict:<17} "
              f"{result['by_region']}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("all targets met" if met else "a target was NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
