"""The poller: vendor lists and statistics in, change events out, one active replica.

`model` (the snapshot), `diff` (pure snapshot diffing), `schedule` (cadence, round-robin),
`observe` (one cycle's vendor reads), `state_store` (the durable snapshot on a compacted
topic), `leadership` (the Kafka lease), `loop` (terms and cycles).
"""

from gateway.poller.diff import Change, Diff, Observation, diff
from gateway.poller.leadership import KafkaLease
from gateway.poller.loop import AccountPolling, Poller, PollerConfig
from gateway.poller.model import PollerState
from gateway.poller.observe import Observer, ObserverConfig, RetryRunner
from gateway.poller.schedule import Cadence, Kind, RoundRobin, Schedule
from gateway.poller.state_store import KafkaStateStore, Snapshot

__all__ = [
    "AccountPolling",
    "Cadence",
    "Change",
    "Diff",
    "KafkaLease",
    "KafkaStateStore",
    "Kind",
    "Observation",
    "Observer",
    "ObserverConfig",
    "Poller",
    "PollerConfig",
    "PollerState",
    "RetryRunner",
    "RoundRobin",
    "Schedule",
    "Snapshot",
    "diff",
]
