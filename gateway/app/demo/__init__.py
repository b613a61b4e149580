"""`gateway demo`: the whole product on this machine, in well under a minute.

It starts the vendor simulator (unless given one) and all three roles in this process —
commands, poller (reading every half second), webhooks (on a free port, with a signing secret
made for this run) — against the local Kafka (``make demo`` starts it), on topics of its own.
Then it tells a short story and prints each step in time order, with the role it came from:
commands on Kafka and their results (RoomCreate, InviteDevice, StartLive, a replayed
duplicate, an invalid command); people and a device joining and leaving at the vendor (the
simulator's scenario API) and the poller's change events for it (``room.opened``,
``participant.joined``, ``room.statistics.changed``, ``participant.left``, media-server
counts); a signed ``POST /v1/commands?wait=10`` answered with its result. Exit 0 when every
step brought back what it should; else 1, with one line saying which step did not.
"""

from __future__ import annotations

import tempfile
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

import httpx

from gateway.app.demo.output import DemoError, Follower, Timeline, describe_event, describe_result
from gateway.app.demo.roles import create_topics, demo_settings, new_secret, running_roles
from gateway.app.demo.story import Story, tell
from gateway.app.embedded_simulator import embedded_simulator, free_port
from gateway.app.kafka import make_producer
from gateway.settings import KafkaSettings
from gateway.simulator import SimulatorSettings

__all__ = ["run_demo"]

BUDGET_S = 55.0  # from the start to the last step; stopping the roles comes on top


async def run_demo(vendor_url: str | None = None, bootstrap: str = "127.0.0.1:9092") -> int:
    """Run the walk-through; returns the process exit code."""
    timeline = Timeline(BUDGET_S)
    try:
        await _run(timeline, vendor_url, bootstrap)
    except DemoError as exc:
        print(f"demo failed after {timeline.elapsed():.1f} s: {exc}", flush=True)
        return 1
    print(f"demo done in {timeline.elapsed():.1f} s", flush=True)
    return 0


async def _run(timeline: Timeline, vendor_url: str | None, bootstrap: str) -> None:
    run = uuid.uuid4().hex[:8]
    room_id = str(10**10 + uuid.uuid4().int % (9 * 10**10))  # 11 digits, new each run
    secret = new_secret()
    async with AsyncExitStack() as stack:
        if vendor_url is None:
            # Invites are answered by the demo, not by the simulator after a second.
            simulator = SimulatorSettings(port=free_port(), invite_answer_delay_s=None)
            vendor_url = await stack.enter_async_context(embedded_simulator(simulator))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gateway-demo-")))
        settings = demo_settings(run, bootstrap, vendor_url, room_id, secret, workdir)
        kafka, webhooks_url = settings.kafka, f"http://127.0.0.1:{settings.webhooks.port}"
        await create_topics(settings)
        timeline.line("demo", f"simulator {vendor_url}, Kafka {bootstrap}, topics demo-{run}.*")
        timeline.line(
            "demo",
            f"roles in this process: commands, poller, webhooks on {webhooks_url}"
            f" (sender 'demo', secret made for this run); room {room_id}",
        )
        timeline.line(
            "demo",
            "-> sent to a role, <- what came back (result, change event, HTTP answer),"
            " ~> what people do at the vendor (the simulator's scenario API)",
        )
        follower = _follower(kafka, timeline)
        await follower.start()
        stack.push_async_callback(follower.stop)
        roles = await stack.enter_async_context(running_roles(settings))
        producer = make_producer(kafka, client_id=f"demo-{run}-producer")
        await producer.start()
        stack.push_async_callback(producer.stop)
        story = Story(
            timeline=timeline,
            follower=follower,
            roles=roles,
            producer=producer,
            commands_topic=kafka.commands_topic,
            sim=await stack.enter_async_context(httpx.AsyncClient(base_url=vendor_url)),
            webhooks=await stack.enter_async_context(
                httpx.AsyncClient(base_url=webhooks_url, timeout=30)
            ),
            secret=secret,
            room_id=room_id,
        )
        await tell(story)


def _follower(kafka: KafkaSettings, timeline: Timeline) -> Follower:
    """Prints the results as the commands role's and the change events as the poller's."""
    return Follower(
        kafka,
        timeline,
        {
            kafka.results_topic: ("commands", describe_result),
            kafka.events_topic: ("poller", describe_event),
        },
    )
