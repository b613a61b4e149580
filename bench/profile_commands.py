"""Where the commands role's CPU goes: py-spy on ``gateway run --role commands`` in scenario 1.

Runs scenario 1's load (RoomUpdate commands over rooms, simulator latency 20 ms, in-flight 64,
no rate limit, everything else as shipped) through the gateway only, with py-spy sampling the
gateway process for the whole run, and writes:

* ``<out>/flamegraph.svg``: the flame graph (every sampled stack, wider = more CPU);
* ``<out>/stacks.txt``: the collapsed stacks py-spy recorded (``frame;frame;... count``);
* ``<out>/top_frames.md``: the share of each library, the top frames by own ("self") time
  and the gateway's functions by inclusive share, so the next person sees where time goes.

Only samples of a thread holding the GIL count (``--gil``): a thread waiting (the event loop in
epoll, a worker thread on its queue) is not using the CPU.

    .venv/bin/python bench/profile_commands.py --out docs/benchmarks/profile-after
    .venv/bin/python bench/profile_commands.py --n 2000 --keys 500 --out /tmp/profile

py-spy writes either collapsed stacks or an SVG from one run, not both; the stacks are what
the tables need, so the SVG is drawn here from them (``render_svg``: a plain flame graph, no
interactivity).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    GATEWAY_SUT,
    ROOT,
    clear_requests,
    produce_commands,
    room_updates,
    running_sut,
    scenario_parser,
    seed_rooms,
    simulator,
    sut_pid,
)

PY_SPY = Path(sys.executable).with_name("py-spy")

# Frame -> library, by the path in py-spy's "function (path:line)" frame names.
LIBRARIES = [
    ("gateway", re.compile(r"[ (/]gateway/")),
    ("aiokafka", re.compile(r"aiokafka/")),
    ("aiohttp", re.compile(r"aiohttp/|yarl/|multidict/")),
    ("httpx / httpcore / h11 / anyio", re.compile(r"httpx/|httpcore/|h11/|anyio/")),
    ("sqlite3 (and aiosqlite before)", re.compile(r"aiosqlite/|sqlite3/")),
    ("opentelemetry", re.compile(r"opentelemetry/")),
    ("pydantic", re.compile(r"pydantic/|pydantic_core/")),
    ("prometheus_client", re.compile(r"prometheus_client/")),
    ("logging / json", re.compile(r"/logging/|/json/|pythonjsonlogger/")),
    ("asyncio / uvloop", re.compile(r"asyncio/|uvloop/")),
]


def library_of(frame: str) -> str:
    for name, pattern in LIBRARIES:
        if pattern.search(frame):
            return name
    return "other (stdlib, interpreter)"


def read_stacks(path: Path) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def short(frame: str) -> str:
    """``function (…/site-packages/pkg/mod.py:12)`` -> ``function (pkg/mod.py)``: one name per
    function, whichever of its lines was running."""
    frame = re.sub(r":\d+\)$", ")", frame)
    return re.sub(r"\(.*?(?:site-packages|lib/python3\.\d+)/", "(", frame).replace(
        str(ROOT) + "/", ""
    )


def top_frames(stacks: Counter[tuple[str, ...]], limit: int = 25) -> str:
    """Markdown tables: the library shares, then the top frames by self and inclusive share."""
    total = sum(stacks.values()) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    for stack, count in stacks.items():
        # py-spy puts the thread first; the leaf is the frame on the CPU.
        own[short(stack[-1])] += count
        libraries[library_of(stack[-1])] += count
        for frame in {short(f) for f in stack[1:] if "gateway/" in f and "__main__" not in f}:
            inclusive[frame] += count
    lines = [f"{total:,} samples.", "", "| library (own time of its frames) | share |", "|---|---|"]
    lines += [f"| {name} | {n / total:.1%} |" for name, n in libraries.most_common()]
    lines += ["", "| top frames, own time | share |", "|---|---|"]
    lines += [f"| `{name}` | {n / total:.1%} |" for name, n in own.most_common(limit)]
    lines += ["", "| the gateway's own functions, inclusive (with their callees) | share |"]
    lines += ["|---|---|"]
    lines += [f"| `{name}` | {n / total:.1%} |" for name, n in inclusive.most_common(limit)]
    return "\n".join(lines) + "\n"


def render_svg(stacks: Counter[tuple[str, ...]], title: str, width: int = 1600) -> str:
    """A flame graph of collapsed stacks: one box per frame, as wide as its samples."""
    tree: dict[tuple[str, ...], int] = defaultdict(int)
    for stack, count in stacks.items():
        for depth in range(1, len(stack) + 1):
            tree[stack[:depth]] += count
    total = sum(stacks.values()) or 1
    depth_max = max((len(s) for s in stacks), default=1)
    row, top = 16, 40
    height = top + row * (depth_max + 1)
    scale = (width - 20) / total
    boxes: list[str] = []
    # Children in name order under their parent, placed left to right.
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for path in sorted(tree):
        children[path[:-1]].append(path)
    x = 10.0
    roots = children[()]
    origin: dict[tuple[str, ...], float] = {}
    for p in roots:
        origin[p] = x
        x += tree[p] * scale
    pending = list(roots)
    while pending:
        path = pending.pop()
        left, w = origin[path], tree[path] * scale
        y = height - row * (len(path) + 1)
        if w >= 0.3:
            name = short(path[-1])
            share = tree[path] / total
            hue = 0 if "gateway/" in path[-1] else 30 if "site-packages" in path[-1] else 50
            label = html.escape(name[: int(w / 7)]) if w > 60 else ""
            boxes.append(
                f"<g><title>{html.escape(name)} ({tree[path]:,} samples, {share:.2%})</title>"
                f'<rect x="{left:.1f}" y="{y}" width="{w:.1f}" height="{row - 1}" '
                f'fill="hsl({hue},80%,{55 + (hash(name) % 20)}%)"/>'
                f'<text x="{left + 3:.1f}" y="{y + row - 4}" font-size="11" '
                f'clip-path="inset(0 0 0 0)">{label}</text></g>'
            )
        cx = left
        for child in children[path]:
            origin[child] = cx
            cx += tree[child] * scale
            pending.append(child)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="monospace"><rect width="100%" height="100%" fill="#fff"/>'
        f'<text x="10" y="24" font-size="15">{html.escape(title)}</text>'
        + "".join(boxes)
        + "</svg>\n"
    )


async def profile(args: argparse.Namespace) -> None:
    out: Path = args.out
    raw = out / "stacks.txt"
    with simulator(latency_ms=args.latency_ms) as vendor_url:
        await seed_rooms(vendor_url, args.keys)
        await clear_requests(vendor_url)
        async with running_sut(GATEWAY_SUT, args, vendor_url) as run:
            pid = sut_pid(run.proc)
            spy = subprocess.Popen(  # noqa: S603, ASYNC220 - our own venv's py-spy, started once
                [
                    str(PY_SPY),
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(args.rate),
                    "--format",
                    "raw",
                    "--gil",
                    "--output",
                    str(raw),
                ],
            )
            await asyncio.sleep(1.0)  # py-spy attached
            started = time.monotonic()
            await run.collector.start()
            sent = await produce_commands(
                args.bootstrap, run.topics.commands, room_updates(args.n, args.keys)
            )
            missing = await run.collector.wait_for(list(sent), within=args.timeout)
            elapsed = time.monotonic() - started
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
    stacks = read_stacks(raw)
    title = (
        f"gateway run --role commands: {args.n:,} RoomUpdate over {args.keys:,} keys, "
        f"{elapsed:.1f} s ({args.n / elapsed:,.0f}/s), {sum(stacks.values()):,} samples"
    )
    (out / "flamegraph.svg").write_text(render_svg(stacks, title))
    (out / "top_frames.md").write_text(f"# {title}\n\n" + top_frames(stacks))
    print(f"profile: {title}; missing {missing}; written to {out}", file=sys.stderr)


def main() -> None:
    parser = scenario_parser(__doc__, keys=1000)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "profile")
    args = parser.parse_args()
    if not PY_SPY.exists() and shutil.which("py-spy") is None:
        raise SystemExit("py-spy is not installed: make bench installs it (the bench extra)")
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(profile(args))


if __name__ == "__main__":
    main()
