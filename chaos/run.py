"""The chaos suite: ``python chaos/run.py [--reduced] [--case NAME ...] [--seed N] [--strict]``.

Each case runs under load against the real Kafka and Redis (GATEWAY_TEST_KAFKA /
GATEWAY_TEST_REDIS, else the local ones of ``scripts/services.sh up``) and a simulator in its
own process, then audits: commands sent, results a read_committed consumer saw, commands
without a result, duplicate results, vendor mutations per idempotency key, vendor-side
rate-limit violations and the longest partition stall against the case's retry budget.
Prints the audit table, writes ``chaos/results/audit.md`` and ``audit.json``, and exits 1 if
any case failed (a case refused because it would restart a service that is not the
project's own is reported, not failed, unless ``--strict``, as in CI).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import random
import re
import shutil
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chaos.audit import Audit, render_table, write_results
from chaos.case_broker_redis import net_kafka, net_redis
from chaos.case_malformed import malformed
from chaos.case_network import net_partition, net_partition_poller, net_vendor
from chaos.case_poller import poller_failover
from chaos.cases_commands import kafka_restart, redis_restart, replica_kill, vendor_outage
from chaos.cases_full import disk_full, redis_full
from chaos.report_doc import write_part
from chaos.services import ROOT, kafka_bootstrap, kafka_ready, redis_ready, redis_url

Case = Callable[[bool, Path, random.Random], Awaitable[Audit]]

CASES: dict[str, tuple[Case, float, float]] = {
    # name: (case, time limit full, time limit reduced) in seconds
    "replica-kill": (replica_kill, 900, 240),
    "kafka-restart": (kafka_restart, 600, 240),
    "redis-restart": (redis_restart, 400, 180),
    "vendor-outage": (vendor_outage, 600, 240),
    "malformed": (malformed, 600, 240),
    "poller-failover": (poller_failover, 300, 180),
    "net-kafka": (net_kafka, 600, 300),
    "net-redis": (net_redis, 400, 240),
    "net-vendor": (net_vendor, 600, 300),
    "net-partition": (net_partition, 600, 240),
    "net-partition-poller": (net_partition_poller, 400, 240),
    "disk-full": (disk_full, 600, 240),
    "redis-full": (redis_full, 600, 240),
}
# What `make chaos-ci` runs (`--ci`, reduced, after `make test`), within the ten minutes a CI
# addition may take: the process and service cases and one network case. `make chaos` runs
# every case.
CI_CASES = (
    "replica-kill",
    "kafka-restart",
    "redis-restart",
    "vendor-outage",
    "malformed",
    "poller-failover",
    "net-vendor",
)

DEFAULT_OUT = ROOT / "chaos" / "results"
REPORT_PREFACE = """<!-- Written by `make chaos` (a full run of every case); do not edit. -->
What each case does and what each column means: [`chaos/README.md`](../chaos/README.md).
The replicas' logs stay in `chaos/results/logs/` of the machine that ran it.
"""


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chaos/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reduced", action="store_true", help="the small variant (CI-sized)")
    parser.add_argument(
        "--case",
        action="append",
        choices=sorted(CASES),
        help="run only this case (repeatable)",
    )
    parser.add_argument("--ci", action="store_true", help="only the cases CI runs (CI_CASES)")
    parser.add_argument("--seed", type=int, default=None, help="seed for kill moments and fuzz")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where audit.md/json go")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="a refused case fails the run (CI: every case must have run)",
    )
    return parser.parse_args(argv)


async def _run_case(name: str, reduced: bool, out: Path, seed: int) -> Audit:
    case, full_limit, reduced_limit = CASES[name]
    limit = reduced_limit if reduced else full_limit
    logs = out / "logs" / name
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        audit = await asyncio.wait_for(case(reduced, logs, random.Random(seed)), limit)  # noqa: S311
    except TimeoutError:
        audit = Audit(name, name, error=f"did not finish within its time limit of {limit:.0f} s")
    except Exception as exc:  # a broken case is a failed case, with the reason
        audit = Audit(name, name, error=f"{type(exc).__name__}: {exc}")
        (logs / "error.txt").write_text(traceback.format_exc())
    audit.seconds = round(time.monotonic() - started, 1)
    audit.details["logs"] = str(logs.relative_to(ROOT) if logs.is_relative_to(ROOT) else logs)
    return audit


async def _preflight() -> None:
    problems = []
    if not await kafka_ready(10):
        problems.append(f"Kafka does not answer on {kafka_bootstrap()}")
    if not redis_ready():
        problems.append(f"Redis does not answer on {redis_url()}")
    if problems:
        raise SystemExit(
            "chaos: " + "; ".join(problems) + ". Start them with `scripts/services.sh up` "
            "(or `make services`), or set GATEWAY_TEST_KAFKA / GATEWAY_TEST_REDIS."
        )


async def main_async(args: argparse.Namespace) -> int:
    await _preflight()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    names = args.case or (list(CI_CASES) if args.ci else list(CASES))
    size = "reduced" if args.reduced else "full"
    print(f"chaos: {size} suite, cases {', '.join(names)}, seed {seed}", flush=True)
    audits = []
    started = time.monotonic()
    for name in names:
        print(f"chaos: {name} ...", flush=True)
        audit = await _run_case(name, args.reduced, args.out, seed)
        # Numbered by the case's place in CASES, whatever number its own title carries.
        audit.case = f"{list(CASES).index(name) + 1} {re.sub(r'^[0-9]+ +', '', audit.case)}"
        print(f"chaos: {name} {audit.verdict} in {audit.seconds:.0f} s", flush=True)
        audits.append(audit)
    total = time.monotonic() - started
    header = (
        f"# Chaos audit ({size})\n\n"
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, seed {seed}, "
        f"{total:.0f} s in total "
        f"({', '.join(f'{a.case} {a.seconds:.0f} s' for a in audits)})"
    )
    path = write_results(audits, args.out, header)
    if not args.reduced and not args.case and not args.ci:
        # A whole full run is the suite's report, kept with the benchmarks (make bench).
        title, body = path.read_text(encoding="utf-8").split("\n", 1)
        write_part("audit", f"{title}\n\n{REPORT_PREFACE}{body}")
    print()
    print(render_table(audits))
    print(f"\nwritten: {path} and {path.with_suffix('.json')}")
    accepted = [a.passed or (a.refused is not None and not args.strict) for a in audits]
    return 0 if all(accepted) else 1


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    args = _parse(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
