"""Run every benchmark scenario, collect their JSON lines, render docs/benchmarks.md.

    .venv/bin/python bench/run_all.py             # full sizes (make bench), ~22 min on 2 cores
    .venv/bin/python bench/run_all.py --quick     # smoke run, ~9 min (BENCH_ARGS=--quick)
    .venv/bin/python bench/run_all.py --render-only   # re-render the report from summary.json

Each scenario runs as its own process (``bench/<scenario>.py``), one after the other, and
prints one JSON line; this collects them into ``bench/results/summary.json`` with the machine,
the exact command lines and the durations, copies the PNG plots to ``docs/benchmarks/`` and
writes ``docs/benchmarks.md``. Most of the time goes to the poller freshness scenario, which
runs the poller at its real cadence and budget (minutes per room count). While the scenarios
run, a monitor samples the machine's load and notes other processes using CPU (the numbers
are only as good as the machine was quiet).
A scenario that fails is reported as failed; the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
DOCS = ROOT / "docs"
PLOTS = DOCS / "benchmarks"
REPORT = DOCS / "benchmarks.md"
PY = sys.executable
CONNECT_SUT = ["--sut", "bench/connect/run_sut.sh", "--sut-name", "connect"]
# The gateway as two worker processes (docs/operations.md sizing), the same 64 in flight in all.
# No operations endpoint: worker 1 would take the harness's free port + 1, which on a busy
# machine may be some connection's ephemeral port.
WORKERS_SUT = [
    "--sut",
    f"GATEWAY_COMMANDS__MAX_IN_FLIGHT=32 GATEWAY_OPS__ENABLED=false {shlex.quote(PY)}"
    " -m gateway run --role commands --workers 2",
    "--sut-name",
    "gateway_2_workers",
]
# The scenarios that run Kafka Connect as one more system under test (unless --no-connect).
CONNECT_SCENARIOS = ("commands_throughput", "latency_under_load")

# name, script, extra arguments, time limit (s) full / quick
SCENARIOS: list[tuple[str, str, list[str], int, int]] = [
    ("sim_capacity", "sim_capacity.py", [], 300, 120),
    ("commands_throughput", "commands_throughput.py", WORKERS_SUT, 1500, 600),
    ("latency_under_load", "latency_under_load.py", [], 1200, 600),
    ("rate_limit_fidelity", "rate_limit_fidelity.py", [], 600, 300),
    ("poller_cost", "poller_cost.py", [], 900, 300),
    ("webhook_ingress", "webhook_ingress.py", [], 600, 300),
    # ~13 min full (two N, each ~100 s of first cycle, 90 s of changes, up to 120 s of wait),
    # ~5 min quick.
    ("poller_freshness", "poller_freshness.py", [], 1500, 600),
]


# ---------------------------------------------------------------------------------------------
# The machine, and what else ran on it


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def machine() -> dict[str, Any]:
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        (
            int(line.split()[1])
            for line in _read("/proc/meminfo").splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    os_name = next(
        (
            line.split("=", 1)[1].strip().strip('"')
            for line in _read("/etc/os-release").splitlines()
            if line.startswith("PRETTY_NAME=")
        ),
        platform.system(),
    )
    pom = _read(str(ROOT / "scripts" / "kafka" / "pom.xml"))
    kafka = pom.split("<kafka.version>", 1)[1].split("<", 1)[0] if "<kafka.version>" in pom else "?"
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kb / 2**20, 1),
        "os": f"{os_name}, Linux {platform.release()}",
        "python": platform.python_version(),
        "kafka": f"{kafka} (one broker, KRaft, 127.0.0.1)",
        "java": _first_line(["java", "-version"]),
        "git_commit": _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "git_dirty": _first_line(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"]
        )
        not in ("", "unknown"),
    }


def _proc_table() -> dict[int, tuple[int, float, str]]:
    """pid -> (ppid, cpu seconds so far, command) for every process we may read."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        table[int(entry.name)] = (int(stat[1]), (int(stat[11]) + int(stat[12])) / ticks, cmd)
    return table


class Monitor:
    """Every ``interval`` s: the load average, and processes outside this run using CPU,
    per scenario (``label``, set before each one).

    "Outside this run": not this process nor a descendant of it. The Kafka broker is such a
    process and is expected (it serves every scenario); everything else is a neighbour.
    """

    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval
        self.label = "start"
        self.loads: dict[str, list[float]] = {}
        self.others: dict[str, dict[str, float]] = {}  # label -> command -> CPU seconds
        self._known_ours: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _ours(self, table: dict[int, tuple[int, float, str]]) -> set[int]:
        """This process and its descendants; once ours, a pid stays ours (a SUT whose shell
        exits first is re-parented to init while it shuts down)."""
        me, ours = os.getpid(), self._known_ours
        for pid in table:
            p, hops = pid, 0
            while p > 1 and hops < 64:
                if p == me or p in ours:
                    ours.add(pid)
                    break
                p, hops = table.get(p, (0, 0.0, ""))[0], hops + 1
        return ours

    def _run(self) -> None:
        before = _proc_table()
        self._ours(before)
        deadline = time.monotonic() + 4 * 3600  # bounded even if nobody stops it
        while not self._stop.wait(self.interval) and time.monotonic() < deadline:
            label = self.label
            self.loads.setdefault(label, []).append(float(_read("/proc/loadavg").split()[0]))
            now = _proc_table()
            ours = self._ours(now)
            others = self.others.setdefault(label, {})
            for pid, (_, cpu, cmd) in now.items():
                if pid in ours or not cmd:
                    continue
                used = cpu - before.get(pid, (0, cpu, ""))[1]
                if used > 0.05 * self.interval:
                    key = _short(cmd)
                    others[key] = others.get(key, 0.0) + used
            before = now

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=30)
        every = [x for loads in self.loads.values() for x in loads]
        return {
            "load_avg_1m_max": max(every, default=0.0),
            "load_avg_1m_mean": round(sum(every) / len(every), 2) if every else 0,
            "per_scenario": {
                label: {
                    "load_mean": round(sum(loads) / len(loads), 2),
                    "load_max": max(loads),
                    "others_cpu_s": {
                        k: round(v, 1)
                        for k, v in sorted(
                            self.others.get(label, {}).items(), key=lambda kv: -kv[1]
                        )
                    },
                }
                for label, loads in self.loads.items()
                if loads
            },
        }


def _short(cmd: str) -> str:
    if "kafka.Kafka" in cmd:
        return "Kafka broker (java kafka.Kafka)"
    if "redis-server" in cmd:
        return "redis-server"
    parts = cmd.split()
    keep = [p if len(p) < 60 else "…" + p[-40:] for p in parts[:6]]
    return " ".join(keep)[:160]


# ---------------------------------------------------------------------------------------------
# Running the scenarios


def broker_pid() -> int | None:
    """The pid of the local Kafka broker (``java ... kafka.Kafka``), if one runs here."""
    for pid, (_, _, cmd) in _proc_table().items():
        if "kafka.Kafka" in cmd and "java" in cmd:
            return pid
    return None


def run_scenario(
    name: str, script: str, extra: list[str], limit: int, quick: bool
) -> dict[str, Any]:
    argv = [PY, str(BENCH / script), *(["--quick"] if quick else []), *extra]
    shown = " ".join(
        [".venv/bin/python", f"bench/{script}", *(["--quick"] if quick else []), *extra]
    )
    print(f"run_all: {name}: {shown}", file=sys.stderr, flush=True)
    log_path = RESULTS / f"{name}.log"
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    broker_before = broker_pid()
    started = time.perf_counter()
    report, code, error = None, None, None
    with log_path.open("w") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own scripts
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
        )
        try:
            out, _ = proc.communicate(timeout=limit)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 15)
            try:
                out, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                out, _ = proc.communicate()
            code, error = -1, f"timed out after {limit} s"
    for line in reversed((out or "").splitlines()):
        try:
            candidate = json.loads(line)
        except ValueError:
            continue
        if isinstance(candidate, dict) and "scenario" in candidate:
            report = candidate
            break
    if code != 0 and error is None:
        tail = log_path.read_text().strip().splitlines()[-5:]
        error = f"exit code {code}: " + " | ".join(tail)[-600:]
    broker_after = broker_pid()
    if broker_before != broker_after:
        # Someone restarted (or stopped) the broker under the scenario: its figures measure that.
        error = (
            f"the Kafka broker restarted during this scenario (pid {broker_before} -> "
            f"{broker_after}); its figures are not valid" + (f"; also {error}" if error else "")
        )
    seconds = round(time.perf_counter() - started, 1)
    print(
        f"run_all: {name}: {'ok' if report and not error else 'FAILED'} in {seconds} s",
        file=sys.stderr,
        flush=True,
    )
    if report:
        print(json.dumps(report), flush=True)
    return {
        "command": shown,
        "started": started_at,
        "seconds": seconds,
        "exit_code": code,
        "error": error,
        "report": report,
    }


def have_connect() -> str | None:
    """Why the Kafka Connect baseline cannot run here, or None."""
    missing = [tool for tool in ("java", "javac", "mvn") if shutil.which(tool) is None]
    return f"not run: {', '.join(missing)} not found" if missing else None


# ---------------------------------------------------------------------------------------------
# The report


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(_f(c) if not isinstance(c, str) else c for c in row) + " |"
        for row in rows
    ]
    return "\n".join(lines)


def _report_of(summary: dict[str, Any], name: str) -> dict[str, Any] | None:
    entry = summary["scenarios"].get(name)
    return entry["report"] if entry and entry.get("report") else None


def _image(name: str, alt: str) -> str:
    return f"![{alt}](benchmarks/{name}.png)"


def _failed(summary: dict[str, Any], name: str) -> str:
    entry = summary["scenarios"].get(name)
    if entry is None:
        return "_Not run._"
    return f"_Failed: {entry.get('error') or 'no report'}._ Log: `bench/results/{name}.log`."


# The targets (issue 13): how each summary line is judged.
AT_LEAST, AT_MOST = "≥", "≤"
LABELS = {
    "baseline": "minimal loop (aiokafka → httpx → aiokafka)",
    "baseline_aiohttp": "minimal loop (aiokafka → aiohttp → aiokafka)",
    "gateway": "gateway (`gateway run --role commands`)",
    "connect": "Kafka Connect + clescot HTTP sink",
    "gateway_2_workers": "gateway, 2 processes × 32 in flight (`--workers 2`)",
}


def _judged(value: float | None, op: str, target: float, digits: int = 2) -> tuple[str, str]:
    """(the value as shown, "met"/"not met") against ``op target``; the value gets one more
    decimal where ``digits`` would show it equal to a target it misses."""
    if value is None or value != value:
        return "–", "–"
    met = value >= target if op == AT_LEAST else value <= target
    shown = f"{value:.{digits}f}"
    if float(shown) == target and not met:
        shown = f"{value:.{digits + 1}f}"
    return f"**{shown}**", "met" if met else "**not met**"


def _target(op: str, target: float, unit: str) -> str:
    """``≥ 1.0`` for a ratio, ``≤ 10 ms`` for a figure with a unit."""
    return f"{op} {target:g}{unit}" if unit else f"{op} {target:.1f}"


def _target_row(
    measure: str, values: str, value: float | None, op: str, target: float, unit: str = ""
) -> list[Any]:
    shown, met = _judged(value, op, target, 1 if unit else 2)
    result = shown + unit if shown != "–" else shown
    return [measure, values, result, _target(op, target, unit), met]


def _missing_row(measure: str, why: str, op: str, target: float, unit: str = "") -> list[Any]:
    return [measure, f"not measured: {why}", "–", _target(op, target, unit), "–"]


def _why_missing(summary: dict[str, Any], name: str, sut: str | None = None) -> str:
    """Why a summary line has no figure: the scenario failed or did not run, or the SUT did
    not run in it."""
    entry = summary["scenarios"].get(name)
    if entry is None:
        return f"{name} not run"
    if not entry.get("report"):
        return f"{name} failed"
    if sut == "connect" and summary.get("connect", "run") != "run":
        return f"Kafka Connect {summary['connect']}"
    return f"no {sut} run in {name}"


def _p95(seconds: float | None) -> str:
    """A freshness p95 in seconds; None (a change never reported) shows as ∞."""
    return "∞" if seconds is None else f"{_f(seconds, 1)} s"


def key_ratios(summary: dict[str, Any]) -> list[list[Any]]:
    """The summary table's rows: measure, values, result, target, met. Every target of the
    issue has its line (``not measured`` when this run has no figure for it); the other lines
    have no target."""
    rows: list[list[Any]] = []
    tp = _report_of(summary, "commands_throughput")
    runs = {r["sut"]: r for r in tp["runs"]} if tp else {}
    gw = runs.get("gateway")

    def throughput_rows(other: str, label: str, target: float | None) -> None:
        tp_measure = f"commands/s, gateway ÷ {label} (scenario 1)"
        cpu_measure = f"CPU per command, gateway ÷ {label} (scenario 1)"
        theirs = runs.get(other)
        if not gw or not theirs or not theirs["throughput"] or not theirs["cpu_ms_per_command"]:
            if target is not None:
                why = _why_missing(summary, "commands_throughput", other)
                rows.append(_missing_row(tp_measure, why, AT_LEAST, target))
                if other == "connect":
                    rows.append(_missing_row(cpu_measure, why, AT_MOST, 1.0))
            return
        ratio = gw["throughput"] / theirs["throughput"]
        values = f"{gw['throughput']:,.0f} ÷ {theirs['throughput']:,.0f}"
        cpu = gw["cpu_ms_per_command"] / theirs["cpu_ms_per_command"]
        cpu_values = f"{gw['cpu_ms_per_command']:.2f} ÷ {theirs['cpu_ms_per_command']:.2f} ms"
        if target is None:
            rows.append([tp_measure, values, f"{ratio:.2f}", "–", "–"])
        else:
            rows.append(_target_row(tp_measure, values, ratio, AT_LEAST, target))
        if other == "connect":
            rows.append(_target_row(cpu_measure, cpu_values, cpu, AT_MOST, 1.0))
        else:
            rows.append([cpu_measure, cpu_values, f"{cpu:.2f}", "–", "–"])

    throughput_rows("connect", "Kafka Connect", 1.0)  # (a), (b)
    throughput_rows("baseline_aiohttp", "aiohttp minimal loop", 0.7)  # (d)
    throughput_rows("baseline", "httpx minimal loop", None)
    two = runs.get("gateway_2_workers")
    if gw and two and gw["throughput"] and two["cpu_ms_per_command"]:
        rows.append(
            [
                "commands/s, gateway 2 processes ÷ 1 process, 64 in flight (scenario 1)",
                f"{two['throughput']:,.0f} ÷ {gw['throughput']:,.0f}",
                f"{two['throughput'] / gw['throughput']:.2f}",
                "–",
                "–",
            ]
        )

    lat = _report_of(summary, "latency_under_load")
    by = {r["sut"]: {x["offered_per_s"]: x for x in r["rates"]} for r in lat["runs"]} if lat else {}
    lgw, conn = by.get("gateway"), by.get("connect")
    if lgw and conn:  # (c)
        kept = [rate for rate in sorted(conn) if conn[rate]["kept_up"] and rate in lgw]
        if not kept:
            rows.append(
                [
                    "scenario 2: rates Kafka Connect keeps up with",
                    "none of " + ", ".join(f"{r:g}/s" for r in sorted(conn)),
                    "–",
                    "–",
                    "–",
                ]
            )
        for rate in kept:
            g, c = lgw[rate], conn[rate]
            rows.append(
                [
                    f"gateway keeps up at {rate:g}/s, where Kafka Connect does (scenario 2)",
                    f"delivered {g['delivered_per_s']:,.0f} of {rate:,.0f}/s"
                    + (f", {g['missing']:,} missing" if g["missing"] else ""),
                    "**yes**" if g["kept_up"] else "**no**",
                    "yes",
                    "met" if g["kept_up"] else "**not met**",
                ]
            )
            for q, target in (("p50", 1.5), ("p99", 2.0)):
                mine, theirs = g[f"added_{q}_ms"], c[f"added_{q}_ms"]
                rows.append(
                    _target_row(
                        f"added latency {q} at {rate:g}/s, gateway ÷ Kafka Connect (scenario 2)",
                        f"{mine:,.1f} ÷ {theirs:,.1f} ms",
                        mine / theirs if theirs else None,
                        AT_MOST,
                        target,
                    )
                )
    else:
        why = _why_missing(summary, "latency_under_load", "connect" if lgw else "gateway")
        rows.append(
            [
                "gateway keeps up, added latency p50 and p99 ÷ Kafka Connect's, at each rate "
                "Kafka Connect keeps up with (scenario 2)",
                f"not measured: {why}",
                "–",
                "yes; ≤ 1.5; ≤ 2.0",
                "–",
            ]
        )
    p50_measure = "gateway's added latency p50 at 100 commands/s (scenario 2)"
    if lgw and 100.0 in lgw:
        p50 = lgw[100.0]["added_p50_ms"]
        rows.append(_target_row(p50_measure, f"{p50:.1f} ms", p50, AT_MOST, 10.0, " ms"))
    else:
        why = _why_missing(summary, "latency_under_load", "gateway")
        if lgw:
            why = "100/s not among the rates"
        rows.append(_missing_row(p50_measure, why, AT_MOST, 10.0, " ms"))
    base = by.get("baseline")
    if lgw and base:
        low = min(lgw)
        if low in base and base[low]["added_p50_ms"]:
            mine, theirs = lgw[low]["added_p50_ms"], base[low]["added_p50_ms"]
            rows.append(
                [
                    f"added latency p50 at {low:g}/s, gateway ÷ httpx minimal loop (scenario 2)",
                    f"{mine:.1f} ÷ {theirs:.1f} ms",
                    f"{mine / theirs:.2f}",
                    "–",
                    "–",
                ]
            )

    poll = _report_of(summary, "poller_cost")
    head = (poll or {}).get("poller_vs_bare_cpu_per_read")
    measure = "CPU per vendor read, poller ÷ bare read loop (scenario 4)"
    if head:  # (e)
        spread = (
            f"; median of {head['pairs']} pairs, {head['ratio_min']:.2f}–{head['ratio_max']:.2f}"
            if head.get("pairs", 1) > 1 and head.get("ratio_min") is not None
            else ""
        )
        rows.append(
            _target_row(
                measure + f", {head['rooms']:,} rooms, {head['cycle']} cycle",
                f"{head['poller_cpu_ms_per_read']:.3f} ÷ {head['bare_cpu_ms_per_read']:.3f} ms"
                + spread,
                head["ratio"],
                AT_MOST,
                1.5,
            )
        )
    else:
        why = _why_missing(summary, "poller_cost")
        if poll:
            why = "this report has no bare read loop"
        rows.append(_missing_row(measure, why, AT_MOST, 1.5))

    wh = _report_of(summary, "webhook_ingress")
    measure = "webhook requests/s, gateway ÷ minimal Starlette → Kafka (scenario 5)"
    if wh:  # (f)
        rows.append(
            _target_row(
                measure,
                f"{wh['gateway_rps']:,.0f} ÷ {wh['baseline_rps']:,.0f}",
                wh["gateway_vs_baseline"],
                AT_LEAST,
                0.9,
            )
        )
    else:
        rows.append(_missing_row(measure, _why_missing(summary, "webhook_ingress"), AT_LEAST, 0.9))
    fresh = _report_of(summary, "poller_freshness")
    if fresh:  # issue 15: membership within one participants interval plus one cycle (p95)
        for run in fresh["runs"]:
            goal = run["goal"]["types"]
            worst = max(
                (g["p95_with_missed_s"] for g in goal.values()),
                key=lambda p95: float("inf") if p95 is None else p95,
                default=None,
            )
            rows.append(
                _target_row(
                    f"poller freshness, {run['rooms']:,} rooms: worst p95 of "
                    + ", ".join(goal)
                    + " (scenario 6)",
                    "; ".join(f"{name} {_p95(g['p95_with_missed_s'])}" for name, g in goal.items()),
                    float("inf") if worst is None else worst,
                    AT_MOST,
                    fresh["bound_s"],
                    " s",
                )
            )
    else:
        rows.append(
            _missing_row(
                "poller freshness: worst p95 of joins, leaves, opens, closes (scenario 6)",
                _why_missing(summary, "poller_freshness"),
                AT_MOST,
                10.0,
                " s",
            )
        )
    rl = _report_of(summary, "rate_limit_fidelity")
    if rl:
        for run in rl["runs"]:
            rows.append(
                [
                    f"rate limit 200/s, {run['config']}: violations / utilisation (scenario 3)",
                    f"{run['violations']} / {run['steady_per_s']:.0f} of 200 per s",
                    f"{run['utilisation']:.0%}",
                    "–",
                    "–",
                ]
            )
        ep = rl.get("endpoint_override")
        if ep:
            rows.append(
                [
                    f"rate limit {ep['config']} within 200/s: endpoint violations / rate"
                    " (scenario 3)",
                    f"{ep['endpoint_violations']} / {ep['endpoint_per_s']:g} of"
                    f" {ep['endpoint_target_per_s']:g} per s",
                    f"others {ep['other_per_s']:g}/s",
                    "–",
                    "–",
                ]
            )
    return rows


def section_capacity(summary: dict[str, Any]) -> str:
    r = _report_of(summary, "sim_capacity")
    if not r:
        return _failed(summary, "sim_capacity")
    rows = [
        [
            f"{x['latency_ms']:g} ms",
            x["client_processes"],
            x["connections"],
            x["requests"],
            x["rps"],
            f"{x['simulator_cpu_share']:.2f}",
            f"{x['client_cpu_share']:.2f}",
        ]
        for x in r["runs"]
    ]
    sut_max = 0.0
    tp = _report_of(summary, "commands_throughput")
    if tp:
        sut_max = max(x["throughput"] for x in tp["runs"])
    verdict = (
        f"The simulator answers **{r['capacity_rps']:,.0f} requests/s** alone with no latency, "
        + (
            "using one full core (its capacity: it is one process). "
            if r.get("saturated")
            else "without using a full core (the clients were the limit: its capacity is higher). "
        )
        + "With 20 ms latency and 64 "
        f"connections, the commands scenarios' setting, it answers "
        f"{r['capacity_at_20ms_64_rps']:,.0f}/s using a fraction of a core: that is the ceiling "
        "of in-flight 64 against this simulator (64 / 20 ms = 3,200/s, less the simulator's "
        "own timer and scheduling), the most any system under test can reach in scenarios 1 "
        "and 2."
    )
    if sut_max:
        share = sut_max / r["capacity_rps"]
        verdict += (
            f" The fastest system under test in scenario 1 made {sut_max:,.0f} requests/s, "
            f"{share:.0%} of the simulator's capacity and "
            f"{sut_max / r['capacity_at_20ms_64_rps']:.0%} of that ceiling: "
            + (
                "the simulator is not the bottleneck."
                if share <= 0.5 and sut_max <= 0.8 * r["capacity_at_20ms_64_rps"]
                else "the simulator or the in-flight ceiling may be limiting it; read the figures "
                "with that."
            )
        )
    verdict += (
        " It runs as one process: its tokens, rooms, request log and vendor-side rate limit are "
        "in-process state, so several workers would each simulate a different vendor; one was "
        "enough."
    )
    return "\n\n".join(
        [
            verdict,
            _table(
                [
                    "latency",
                    "client processes",
                    "connections",
                    "requests",
                    "requests/s",
                    "simulator CPU (cores)",
                    "client CPU (cores)",
                ],
                rows,
            ),
            _image("sim_capacity", "simulator capacity"),
        ]
    )


def section_throughput(summary: dict[str, Any]) -> str:
    r = _report_of(summary, "commands_throughput")
    if not r:
        return _failed(summary, "commands_throughput")
    rows = [
        [
            LABELS.get(x["sut"], x["sut"]),
            x["throughput"],
            x["added_p50_ms"] / 1000,
            x["added_p95_ms"] / 1000,
            x["added_p99_ms"] / 1000,
            x["cpu_s"],
            f"{x['cpu_ms_per_command']:.2f}",
            x["rss_mb"],
            f"{x['results']:,} ({', '.join(f'{k} {v:,}' for k, v in x['statuses'].items())})",
        ]
        for x in r["runs"]
    ]
    ratios = [
        f"gateway ÷ {k.removeprefix('gateway_vs_').removesuffix('_throughput')} = **{v:.3f}**"
        for k, v in r.items()
        if k.startswith("gateway_vs_") and k.endswith("_throughput")
    ]
    cpu_ratios = [
        f"gateway ÷ {k.removeprefix('gateway_vs_').removesuffix('_cpu_per_command')} = {v:.3f}"
        for k, v in r.items()
        if k.startswith("gateway_vs_") and k.endswith("_cpu_per_command")
    ]
    return "\n\n".join(
        [
            f"{r['n']:,} `RoomUpdate` commands over {r['keys']:,} keys ({r['partitions']} "
            f"partitions), all put on the topic at once; simulator latency {r['latency_ms']:g} ms, "
            f"in-flight {r['in_flight']} (ceiling {r['ceiling_per_s']:,.0f}/s), no rate limit. "
            "Each system runs alone, one after the other, against the same simulator and broker.",
            _table(
                [
                    "system",
                    "commands/s",
                    "added p50 s",
                    "added p95 s",
                    "added p99 s",
                    "CPU s",
                    "CPU ms/command",
                    "RSS MB",
                    "results",
                ],
                rows,
            ),
            "Ratios (throughput, this run): "
            + ", ".join(ratios)
            + (f"; CPU per command: {', '.join(cpu_ratios)}" if cpu_ratios else "")
            + ". The two minimal loops are the same loop (`bench/baseline_loop.py`, "
            "`bench/baseline_loop_aiohttp.py`) with the two HTTP clients: httpx, the naive "
            "baseline, and aiohttp, the gateway's vendor client; CPU is each system's whole "
            "process tree.",
            "*Added latency* is result seen by a `read_committed` consumer − command sent − the "
            "vendor's own time for it. With the whole batch queued at once it is mostly the time "
            "a command waited behind the others (it grows with N); scenario 2 gives the latency "
            "at rates a system can sustain. Every system here is CPU-bound: the two cores are "
            "shared by the system under test, the broker, the simulator and the harness, so "
            "commands/s follows each system's CPU per command.",
            _image("commands_throughput", "throughput per system"),
        ]
    )


def section_latency(summary: dict[str, Any]) -> str:
    r = _report_of(summary, "latency_under_load")
    if not r:
        return _failed(summary, "latency_under_load")
    short = {"baseline": "httpx minimal loop", "connect": "Kafka Connect"}
    rows = []
    for run in r["runs"]:
        for x in run["rates"]:
            rows.append(
                [
                    short.get(run["sut"], run["sut"]),
                    f"{x['offered_per_s']:,.0f}",
                    x["delivered_per_s"],
                    "yes" if x["kept_up"] else "**no**",
                    x["added_p50_ms"],
                    x["added_p99_ms"],
                    f"{x['cpu_ms_per_command']:.2f}",
                    f"{x['results']:,}/{x['commands']:,}",
                ]
            )
    parts = [
        f"The harness produces `RoomUpdate` commands at a fixed rate for {r['seconds']:g} s "
        f"per rate over {r['keys']:,} keys (simulator {r['latency_ms']:g} ms, in-flight "
        f"{r['in_flight']}, no rate limit) and reads results as they arrive. *Delivered* is the "
        "rate the middle 80 % of the results arrived at (10th to 90th percentile; or the rate "
        "those commands were sent at, if lower); a system *kept up* if every result came and "
        "it delivered ≥ 95 % of the offered rate. A rate a system cannot sustain builds a "
        "queue: its latency then says how long the backlog grew in that many seconds, not a "
        "steady state.",
        _table(
            [
                "system",
                "offered/s",
                "delivered/s",
                "kept up",
                "added p50 ms",
                "added p99 ms",
                "CPU ms/command",
                "results",
            ],
            rows,
        ),
    ]
    versus = r.get("gateway_vs_connect_added_latency")
    if versus:
        cmp_rows = [
            [
                f"{float(rate):,.0f}",
                "yes" if x["connect_kept_up"] else "**no**",
                "yes" if x["gateway_kept_up"] else "**no**",
                _f(x["p50"], 2),
                _f(x["p99"], 2),
            ]
            for rate, x in versus.items()
        ]
        parts += [
            "The gateway against Kafka Connect at each rate (the issue's targets, at every rate "
            "Kafka Connect keeps up with: the gateway keeps up too, its added p50 ≤ 1.5 × and "
            "its p99 ≤ 2 × Connect's; see the summary):",
            _table(
                [
                    "offered/s",
                    "Kafka Connect kept up",
                    "gateway kept up",
                    "gateway p50 ÷ Connect p50",
                    "gateway p99 ÷ Connect p99",
                ],
                cmp_rows,
            ),
        ]
    at_100 = r.get("gateway_added_p50_ms_at_100")
    if at_100 is not None:
        parts.append(
            f"The gateway's added p50 at 100 commands/s: **{at_100:.1f} ms** (target ≤ 10 ms)."
        )
    parts.append(_image("latency_under_load", "added latency per arrival rate"))
    return "\n\n".join(parts)


def section_rate_limit(summary: dict[str, Any]) -> str:
    r = _report_of(summary, "rate_limit_fidelity")
    if not r:
        return _failed(summary, "rate_limit_fidelity")
    v = r["vendor_limit"]
    rows = [
        [
            x["config"],
            f"{x['lane_rate_per_s']:g}",
            f"{x['commands']:,} ({x['succeeded']:,} succeeded)",
            x["vendor_requests"],
            f"**{x['violations']}**",
            x["violations_without_tolerance"],
            f"{x['busiest_1s']} (≤ {x['busiest_1s_allowed']})",
            x["steady_per_s"],
            f"{x['utilisation']:.1%}",
        ]
        for x in r["runs"]
    ]
    return "\n\n".join(
        [
            f"Simulator: vendor-side limit {v['rate_per_s']:g}/s, burst {v['burst']}, tolerance "
            f"{v['tolerance_ms']:g} ms, every request over it counted. Gateway: the same "
            f"{r['gateway_limit']['rate_per_s']:g}/s and burst, its default 2 % safety margin and "
            f"one slot of burst headroom. {r['bursts']} bursts of {r['burst_size']:,} commands, "
            f"{r['every_s']:g} s apart (more than the limit lets through in between: saturated, "
            "then a short idle gap before the next burst).",
            _table(
                [
                    "gateway config",
                    "commands lane /s",
                    "commands",
                    "vendor requests",
                    "violations",
                    "violations at 0 ms tolerance",
                    "busiest 1 s window",
                    "saturated rate /s",
                    "utilisation of 200/s",
                ],
                rows,
            ),
            "Why a tolerance: the simulator stamps a request's arrival when its own event loop "
            "gets to it; on two cores shared with Kafka, the gateway and the harness, a "
            "descheduled simulator stamps requests together that the gateway sent apart. The "
            "column *at 0 ms tolerance* reruns the vendor's GCRA over the logged arrival times "
            "without it, and the busiest 1-second window needs none. *Utilisation* counts a "
            "burst's vendor requests from 0.5 s after its first (past the burst allowance) to its "
            "last. With the default `POLLER_SHARE` (0.2) the commands role alone keeps to its "
            "80 % lane (it may not borrow the poller's share without Redis, since the poller may "
            "run in another process); with a share of 0.01 it uses ~98 % (the 2 % safety margin).",
            _image("rate_limit_fidelity", "vendor requests per 100 ms against the limit"),
            *_endpoint_override(r),
        ]
    )


def _endpoint_override(r: dict[str, Any]) -> list[str]:
    """The per-endpoint override run of scenario 3, when the report has one."""
    ep = r.get("endpoint_override")
    if not ep:
        return []
    vendor, gateway = ep["endpoint_vendor_limit"], ep["endpoint_gateway_limit"]
    row = [
        f"{ep['commands']:,} ({ep['succeeded']:,} succeeded)",
        ep["endpoint_requests"],
        f"**{ep['endpoint_violations']}**",
        ep["endpoint_violations_without_tolerance"],
        f"{ep['endpoint_per_s']:g} (target {ep['endpoint_target_per_s']:g})",
        ep["other_requests"],
        f"{ep['other_per_s']:g} in {ep['other_served_in_s']:g} s",
        ep["account_violations"],
    ]
    return [
        f"**Per-endpoint override.** The simulator also limits `{ep['endpoint']}` to "
        f"{vendor['rate_per_s']:g}/s (burst {vendor['burst']}); the gateway runs with "
        f'`RATE_LIMIT__ENDPOINTS` `{{"{ep["endpoint"]}": {vendor["rate_per_s"]:g}}}` '
        f"({gateway['rate_per_s']:g}/s after the safety margin, burst {gateway['burst']}). One "
        "burst of RoomStatisticGet commands, interleaved with RoomUpdate commands, goes on the "
        "topic at once: the endpoint's requests keep to its sub-limit while the others run at "
        "the account's rate.",
        _table(
            [
                "commands",
                "endpoint requests",
                "endpoint violations",
                "at 0 ms tolerance",
                "endpoint rate /s past its burst",
                "other requests",
                "other requests /s",
                "account violations",
            ],
            [row],
        ),
    ]


def _poller_headline(r: dict[str, Any]) -> str:
    head = r.get("poller_vs_bare_cpu_per_read")
    if not head or head.get("ratio") is None:
        return ""
    text = (
        f" The {head['cycle']} cycle at {head['rooms']:,} rooms ran {head.get('pairs', 1)} "
        "times, each right after the bare loop's reads: poller ÷ bare loop, CPU per read = "
        f"**{head['ratio']:.2f}** (median"
    )
    if head.get("ratio_min") is not None:
        text += f"; {head['ratio_min']:.2f} to {head['ratio_max']:.2f}"
    return text + "; target ≤ 1.5)."


def section_poller(summary: dict[str, Any]) -> str:
    r = _report_of(summary, "poller_cost")
    if not r:
        return _failed(summary, "poller_cost")
    meaning = {
        "first": "first (every room, snapshot)",
        "steady": "full sweep, 1 % changed",
        "capped": "default cap (500), all kinds due",
    }
    rows = [
        [
            f"{x['rooms']:,}",
            meaning.get(x["cycle"], x["cycle"]),
            x["vendor_calls"],
            x["changes_made"],
            x["events"],
            x["cpu_s"],
            _f(x.get("cpu_ms_per_read"), 3),
            _f(x.get("bare_cpu_ms_per_read"), 3),
            _f(x.get("poller_vs_bare_cpu_per_read"), 2),
            x["wall_s"],
            x["rss_mb"],
        ]
        for x in r["cycles"]
    ]
    return "\n\n".join(
        [
            "The poller's pieces in one process (vendor client, observer, diff, CloudEvents, a "
            "transactional producer), the simulator in its own with N open rooms of two "
            "participants, rate limit off. *Changes made*: what the harness did before the cycle "
            "(rooms opened and participants joined; one mute per 100 rooms; nothing). The capped "
            "cycle's events are the first statistics of 500 rooms. *Bare loop*: the same "
            "vendor reads (same endpoints, rooms and number of requests, 8 at a time) made "
            "right before each cycle, in the same process, with aiohttp called directly (the "
            "HTTP client under the poller's vendor client), each answer parsed as JSON and "
            "nothing more: no models, no diff, no events, no Kafka. CPU ms per read is the "
            "cycle's CPU over its vendor calls; the steady row is the first of its pairs."
            + _poller_headline(r),
            _table(
                [
                    "rooms",
                    "cycle",
                    "vendor calls",
                    "changes made",
                    "events",
                    "CPU s",
                    "CPU ms/read",
                    "bare loop CPU ms/read",
                    "poller ÷ bare",
                    "wall s",
                    "RSS MB",
                ],
                rows,
            ),
            _image("poller_cost", "poller cycle cost"),
        ]
    )


def _freshness_run(run: dict[str, Any], bound: float) -> list[str]:
    """One N of the freshness scenario: what ran, the verdict, the table per event type."""
    v, whole = run["vendor"], run.get("vendor_whole_measurement") or run["vendor"]
    changes = ", ".join(f"{n} {k}s" for k, n in sorted(run["changes"].items()))
    cold = run.get("changes_in_rooms_not_yet_snapshotted", 0)
    verdict = "**met**" if run["goal"]["met"] else "**not met**"
    worst = [
        f"{name} {_f(g['p95_with_missed_s'], 1) if g['p95_with_missed_s'] is not None else '∞'}"
        for name, g in run["goal"]["types"].items()
    ]
    failed = run.get("poller_log", {}).get("failed_reads") or {}
    text = (
        f"**{run['rooms']:,} rooms**: seeded in {run['seed_s']:,.1f} s; every room.opened on "
        f"the topic {run['snapshot_s']:,.0f} s after the poller started, "
        + (
            f"every room's participants {run['participants_snapshot_s']:,.0f} s later; "
            if run.get("participants_snapshot_s") is not None
            else f"the participants of {run.get('rooms_snapshotted_at_changes', 0):,} rooms "
            "when the changes began; "
        )
        + f"{sum(run['changes'].values()):,} changes in {run['changes_s']:,.0f} s ({changes})"
        + (
            f", {cold:,} of them in rooms whose participants were not yet on the topic"
            if cold
            else ""
        )
        + f", then {run['drain_s']:,.0f} s of waiting. Vendor requests during the changes: "
        f"{_f(v['rate_per_s'], 2)}/s (busiest 1 s: {v['busiest_1s']}); from the first change to "
        f"the end of the wait, {whole['requests']:,} requests for {whole['events_emitted']:,} "
        f"events = **{_f(whole['requests_per_event'], 2)} requests per event**; room list to "
        f"room list {_f(whole['room_list_every_s']['median'], 1)} s (median), "
        f"{_f(whole['room_list_every_s']['max'], 1)} s (max)."
        + (
            " Failed reads logged by the poller: "
            + ", ".join(f"{k} {n:,}" for k, n in failed.items())
            + "."
            if failed
            else ""
        )
        + f" Goal, p95 ≤ {bound:g} s with missed changes counted as late: {verdict} "
        f"({', '.join(worst)} s)."
    )
    rows = [
        [
            name,
            t["expected"],
            t["count"],
            _f(t["p50_s"], 1),
            _f(t["p95_s"], 1),
            _f(t["max_s"], 1),
            (f"**{t['missed']:,}**" if t["missed"] else "0")
            + (
                f" ({t['missed_room_not_yet_snapshotted']:,} in rooms not yet snapshotted)"
                if t.get("missed_room_not_yet_snapshotted")
                else ""
            ),
            _f(t["p95_with_missed_s"], 1) if t["p95_with_missed_s"] is not None else "∞",
        ]
        for name, t in run["types"].items()
    ]
    table = _table(
        [
            "event",
            "expected",
            "on Kafka",
            "p50 s",
            "p95 s",
            "max s",
            "missed",
            "p95 s, missed counted late",
        ],
        rows,
    )
    return [text, table]


def section_freshness(summary: dict[str, Any]) -> str:
    r = _report_of(summary, "poller_freshness")
    if not r:
        return _failed(summary, "poller_freshness")
    p = r["poller"]
    mix = ", ".join(f"{share:.0%} {kind}s" for kind, share in r["change_mix"].items())
    parts = [
        "How long after a change at the vendor its event is on Kafka. The poller runs as its "
        "own process (`gateway run --role poller`, GATEWAY_* settings only, no Redis) with "
        f"its defaults: participants and room list every {p['participants_interval_s']:g} s, "
        f"statistics every {p['statistics_interval_s']:g} s, media servers every "
        f"{p['media_servers_interval_s']:g} s, at most {p['max_rooms_per_cycle']:,} rooms per "
        f"cycle, {p['concurrency']} reads at once, account budget {p['rate_per_s']:g}/s with "
        f"poller share {p['poller_share']:g} (its lane: {p['lane_rate_per_s']:g} requests/s). "
        "The simulator, in its own process, holds N open rooms of two participants. Once every "
        "room's `room.opened` is on the topic, and every room's participants too (waiting at "
        f"most {r.get('snapshot_wait_s', 120):g} s for those), and {r.get('settle_s', 10):g} s "
        "more, the harness makes "
        f"{r['change_rate_per_s']:g} changes/s for {r['change_seconds']:g} s ({mix}; each room "
        f"changed at most once, seed {r['seed']}). Latency = the event's broker append time "
        "(the topic's `LogAppendTime`) − the change's time (midpoint of its scenario-API "
        "request), for the first matching event; after the last change the harness waits up "
        f"to {r['drain_s']:g} s, and what has not come by then is *missed*. A close expects "
        "`room.closed` and a `participant.left` (reason `room_closed`) per participant, an "
        "open `room.opened` and the opener's `participant.joined`.",
    ]
    for run in r["runs"]:
        parts += _freshness_run(run, r["bound_s"])
    parts += [
        f"The goal's bound, {r['bound_s']:g} s, is the participants interval plus one cycle "
        "of the same length; it is judged on `" + "`, `".join(r["goal_types"]) + "`.",
        _image("poller_freshness", "poller freshness per event type"),
    ]
    return "\n\n".join(parts)


def section_webhook(summary: dict[str, Any]) -> str:
    r = _report_of(summary, "webhook_ingress")
    if not r:
        return _failed(summary, "webhook_ingress")
    label = {
        "gateway": "gateway (`--role webhooks`, signed)",
        "baseline": "minimal Starlette → Kafka (no checks)",
        "kafka_only": "Kafka producer alone (no HTTP)",
    }
    rows = [
        [
            label.get(x["name"], x["name"]),
            x["rps"],
            x.get("p50_ms"),
            x.get("p99_ms"),
            x.get("cpu_ms_per_request"),
            ", ".join(f"{k}: {v:,}" for k, v in x.get("statuses", {}).items()) or "–",
        ]
        for x in r["runs"]
    ]
    return "\n\n".join(
        [
            f"{r['n']:,} requests over {r['concurrency']} keep-alive connections from a minimal "
            "raw-HTTP client; a request counts when answered 202 (the broker acknowledged it). "
            f"Gateway ÷ minimal server = **{r['gateway_vs_baseline']:.2f}**; records on the "
            f"gateway's topic afterwards: {r['gateway_on_kafka']:,} (50 warm-up + accepted).",
            _table(
                ["server", "requests/s", "p50 ms", "p99 ms", "server CPU ms/request", "answers"],
                rows,
            ),
            _image("webhook_ingress", "webhook ingress requests per second"),
        ]
    )


def reading_notes(summary: dict[str, Any]) -> list[str]:
    """What the figures of this run say, worded from the figures themselves."""
    notes = []
    tp = _report_of(summary, "commands_throughput")
    runs = {r["sut"]: r for r in tp["runs"]} if tp else {}
    gw, base, conn = runs.get("gateway"), runs.get("baseline"), runs.get("connect")
    aio = runs.get("baseline_aiohttp")
    if gw and aio:
        cpu = gw["cpu_ms_per_command"] / aio["cpu_ms_per_command"]
        if aio["throughput"] > gw["throughput"]:
            notes.append(
                f"- **The aiohttp minimal loop delivers "
                f"{aio['throughput'] / gw['throughput']:.1f}x the gateway's commands/s** and "
                f"spends {1 / cpu:.2f}x its CPU per command, with the same HTTP client: it makes "
                "the HTTP call and produces the answer; the gateway also validates the envelope "
                "against the endpoint's schema, claims and stores the idempotency key (SQLite), "
                "keeps order per key, publishes results and offsets in Kafka transactions and "
                "records spans and metrics."
            )
        else:
            notes.append(
                "- **The aiohttp minimal loop is not faster than the gateway in this run** "
                f"({aio['throughput']:,.0f} against {gw['throughput']:,.0f} commands/s, "
                f"{aio['cpu_ms_per_command']:.2f} against {gw['cpu_ms_per_command']:.2f} ms of "
                "CPU per command)."
            )
    if base:
        notes.append(
            f"- **The httpx minimal loop**, kept as the naive baseline, made "
            f"{base['throughput']:,.0f} commands/s at {base['cpu_ms_per_command']:.2f} ms of CPU "
            "per command. httpx's connection pool (httpcore 1.0.9) does work per pooled "
            "connection on every request and may hand one idle connection to several waiters, "
            "who then retry (encode/httpcore#1035): with 64 requests really in flight that can "
            "cost more than the rest of the loop, and it varies from run to run with how many "
            "connections the pool happens to hold. It keeps 20 idle keep-alive connections; "
            "keeping all 64 alive measured about 3 ms of CPU per request instead of 0.8 ms (64 "
            "concurrent requests at 20 ms). The gateway's vendor client is on aiohttp, hence the "
            "second minimal loop."
        )
    if gw and conn:
        notes.append(
            f"- **Kafka Connect** ({conn['throughput']:,.0f} commands/s, "
            f"{conn['cpu_ms_per_command']:.2f} ms CPU per command, {conn['rss_mb']:,.0f} MB RSS "
            f"against the gateway's {gw['rss_mb']:,.0f} MB) runs on the JVM with okhttp's "
            "thread pool; it gives no idempotency, no order per key, no retries on the vendor's "
            "codes and no transactional results (`bench/connect/README.md`)."
        )
    lat = _report_of(summary, "latency_under_load")
    if lat:
        by = {r["sut"]: r["rates"] for r in lat["runs"]}
        if "gateway" in by:
            low = by["gateway"][0]
            notes.append(
                f"- **At a low rate** ({low['offered_per_s']:g}/s) the gateway adds "
                f"{low['added_p50_ms']:.0f} ms at p50: a result becomes visible to a "
                "`read_committed` consumer when the Kafka transaction that publishes it (with "
                "its offset) commits; `GATEWAY_COMMANDS__COMMIT_INTERVAL_MS` sets the least time "
                "between two (0 by default: as soon as a result is ready and no transaction "
                "runs). The minimal loops have no transaction. The CPU per command is higher at "
                f"a low rate ({low['cpu_ms_per_command']:.1f} ms) because each transaction "
                "carries few results."
            )
    notes.append(
        "- **Two cores** are shared by the system under test, the broker, the simulator and "
        "the harness: the absolute figures are this machine's; CPU per command and the ratios "
        "travel better."
    )
    return notes


def _library_table(top_frames: str) -> str:
    """The first table of a ``top_frames.md`` (the share of each library)."""
    lines = top_frames.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("| library")), None)
    if start is None:
        return ""
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def section_profiles() -> list[str]:
    """Where the commands role's CPU goes: the profiles committed under docs/benchmarks/
    (``bench/profile_commands.py``; not run by ``make bench``: py-spy would tax the figures)."""
    profiles = sorted(
        (p for p in PLOTS.glob("profile-*") if (p / "top_frames.md").exists()),
        key=lambda p: (p.name != "profile-before", p.name),
    )
    if not profiles:
        return []
    parts = [
        "## 7. Where the commands role's CPU goes",
        "py-spy profiles of `gateway run --role commands` in scenario 1's load (samples of the "
        "thread holding the GIL), made by `.venv/bin/python bench/profile_commands.py --out "
        "docs/benchmarks/profile-<name>`: a flame graph (`flamegraph.svg`), the collapsed "
        "stacks and the top frames by own and inclusive time (`top_frames.md`). The share of "
        "each library's own frames:",
    ]
    for profile in profiles:
        text = (profile / "top_frames.md").read_text()
        title = text.splitlines()[0].lstrip("# ") if text else profile.name
        parts += [
            f"**{profile.name}**: {title}. [flame graph](benchmarks/{profile.name}/flamegraph.svg),"
            f" [top frames](benchmarks/{profile.name}/top_frames.md)",
            _library_table(text),
        ]
    return parts


def render(summary: dict[str, Any]) -> str:
    m = summary["machine"]
    mon = summary.get("monitor", {})
    commands = "\n".join(
        f"{entry['command']}    # {entry.get('started', '')[11:16]} UTC, {entry['seconds']:,.0f} s"
        + ("" if entry.get("report") and not entry.get("error") else "  (FAILED)")
        for entry in summary["scenarios"].values()
    )
    rows = []
    for label, info in mon.get("per_scenario", {}).items():
        neighbours = {
            k: v for k, v in info["others_cpu_s"].items() if not k.startswith("Kafka broker")
        }
        rows.append(
            [
                label,
                f"{info['load_mean']:.2f} / {info['load_max']:.2f}",
                ", ".join(f"`{k}` {v:g}" for k, v in list(neighbours.items())[:4]) or "none",
            ]
        )
    busy = (
        "Load and other processes while each scenario ran (sampled every 5 s; the Kafka broker "
        "and this run's own processes not counted as others; on 2 cores a load of about 2 is "
        "the benchmark itself):\n\n"
        + _table(["scenario", "1-min load mean / max", "other processes (CPU s)"], rows)
        if rows
        else ""
    )
    dirty = " with uncommitted changes" if m.get("git_dirty") else ""
    merged_names = summary.get("merged", [])
    mode = (
        "**quick**: smoke sizes, not the issue's"
        if summary["quick"]
        else "full: the issue's sizes unless a section says otherwise"
    )

    def section(title: str, name: str, body: Any) -> list[str]:
        entry = summary["scenarios"].get(name) or {}
        warning = (
            [f"**Warning: {entry['error']}.**"]
            if entry.get("error") and entry.get("report")
            else []
        )
        return [title, *warning, body(summary)]

    parts = [
        "# Benchmarks",
        "<!-- generated by bench/run_all.py (make bench); edit the generator, not this file -->",
        f"Run of {summary['started']} ({mode}), {summary['duration_s'] / 60:.1f} minutes, at "
        f"commit `{m['git_commit']}`{dirty}. Every system under test, the broker, the simulator "
        "and the harness share this one machine; each figure is from one run"
        + (
            f" (re-run later on their own, with `--only … --merge`: {', '.join(merged_names)})."
            if merged_names
            else "."
        ),
        "## Summary",
        "Each line with a target is one of issue 13's (the poller freshness lines: issue 15's);"
        " *met* is judged on this run's figure.",
        _table(["measure", "values", "result", "target", "met"], key_ratios(summary)),
        "## Machine",
        _table(
            ["", ""],
            [
                ["CPUs (nproc)", str(m["nproc"])],
                ["CPU model", m["cpu_model"]],
                ["memory", f"{m['memory_gib']} GiB"],
                ["OS", m["os"]],
                ["Python", m["python"]],
                ["Kafka", m["kafka"]],
                ["Java (Kafka, Kafka Connect)", m["java"]],
            ],
        ),
        busy,
        "## How to run",
        "`make bench` (installs the `bench` extra, starts Kafka and Redis if needed, then "
        f"`.venv/bin/python bench/run_all.py{' --quick' if summary['quick'] else ''}`); "
        "`make bench BENCH_ARGS=--quick` for a smoke run. The scenarios it ran, exactly:",
        f"```sh\n{commands}\n```",
        "Raw results: `bench/results/summary.json` (one JSON report per scenario) and "
        "`bench/results/<scenario>.{json,png,log}` (git-ignored); the plots below are copied "
        "to `docs/benchmarks/`. Any system that reads the commands topic and writes results can "
        'be measured with `--sut "COMMAND" --sut-name NAME` on scenarios 1 and 2 '
        "(`bench/harness.py`); the Kafka Connect baseline is one (`bench/connect/`).",
        *section("## 0. Simulator capacity alone", "sim_capacity", section_capacity),
        *section("## 1. Throughput", "commands_throughput", section_throughput),
        *section("## 2. Latency under load", "latency_under_load", section_latency),
        *section("## 3. Rate-limit fidelity", "rate_limit_fidelity", section_rate_limit),
        *section("## 4. Poller cost", "poller_cost", section_poller),
        *section("## 5. Webhook ingress", "webhook_ingress", section_webhook),
        *section("## 6. Poller freshness", "poller_freshness", section_freshness),
        *section_profiles(),
        "## Reading these figures",
        *reading_notes(summary),
    ]
    return "\n\n".join(parts) + "\n"


def write_report(summary: dict[str, Any]) -> None:
    PLOTS.mkdir(parents=True, exist_ok=True)
    for name in summary["scenarios"]:
        png = RESULTS / f"{name}.png"
        if png.exists() and _report_of(summary, name):
            shutil.copyfile(png, PLOTS / png.name)
    REPORT.write_text(render(summary))
    print(
        f"run_all: wrote {REPORT.relative_to(ROOT)} and {PLOTS.relative_to(ROOT)}/", file=sys.stderr
    )


def merged(previous: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``previous`` with the scenarios of ``new`` replaced (in the usual order)."""
    scenarios = {**previous["scenarios"], **new["scenarios"]}
    per = {
        **previous.get("monitor", {}).get("per_scenario", {}),
        **new["monitor"].get("per_scenario", {}),
    }
    order = [name for name, *_ in SCENARIOS]
    out = {**previous, "machine": new["machine"]}
    out["scenarios"] = {n: scenarios[n] for n in order if n in scenarios}
    out["monitor"] = {**new["monitor"], "per_scenario": {n: per[n] for n in order if n in per}}
    out["duration_s"] = round(sum(e["seconds"] for e in out["scenarios"].values()), 1)
    out["merged"] = sorted({*previous.get("merged", []), *new["scenarios"]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes (about 9 minutes)")
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--no-connect", action="store_true", help="skip the Kafka Connect SUT")
    parser.add_argument("--render-only", action="store_true", help="re-render from summary.json")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="with --only: replace those scenarios in the existing summary.json, keep the others"
        " (e.g. to re-run one that a neighbour disturbed)",
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary_path = RESULTS / "summary.json"
    if args.render_only:
        write_report(json.loads(summary_path.read_text()))
        return
    connect_missing = "not run: --no-connect" if args.no_connect else have_connect()
    summary: dict[str, Any] = {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "machine": machine(),
        "connect": connect_missing or "run",
        "scenarios": {},
    }
    previous: dict[str, Any] | None = None
    if args.merge and summary_path.exists():
        previous = json.loads(summary_path.read_text())
        if previous.get("quick") != args.quick:
            sys.exit("run_all: --merge needs the same --quick setting as summary.json")
    monitor = Monitor()
    monitor.start()
    t0 = time.perf_counter()
    try:
        for name, script, extra, full_limit, quick_limit in SCENARIOS:
            if args.only and name not in args.only:
                continue
            if name in CONNECT_SCENARIOS and not connect_missing:
                extra = [*extra, *CONNECT_SUT]
            monitor.label = name
            summary["scenarios"][name] = run_scenario(
                name, script, extra, quick_limit if args.quick else full_limit, args.quick
            )
    finally:
        summary["monitor"] = monitor.stop()
        summary["duration_s"] = round(time.perf_counter() - t0, 1)
        if previous is not None:
            summary = merged(previous, summary)
        summary_path.write_text(json.dumps(summary, indent=2))
    write_report(summary)
    failed = [n for n, e in summary["scenarios"].items() if e.get("error") or not e.get("report")]
    if failed:
        print(f"run_all: failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)
    print(f"run_all: all {len(summary['scenarios'])} scenarios ok in {summary['duration_s']} s")


if __name__ == "__main__":
    main()
