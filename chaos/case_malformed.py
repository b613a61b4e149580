"""Case 5: malformed records (hypothesis-fuzzed) interleaved with valid commands. Every valid
command gets its result; every malformed record gets exactly one outcome, a rejected result
under the id it carries or a dead letter when it carries none; nothing stalls."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path

from chaos.audit import Audit, max_stall
from chaos.fuzz import Malformed, draw_malformed
from chaos.rig import CommandsRig, RigConfig, paced

__all__ = ["malformed"]


async def malformed(reduced: bool, logs: Path, rng: random.Random) -> Audit:
    bad_count, good_count, rate = (1000, 200, 150.0) if reduced else (10_000, 2000, 300.0)
    audit = Audit(
        "5 malformed", f"{bad_count:,} fuzzed malformed records among {good_count:,} valid"
    )
    drawn = time.monotonic()
    bad = draw_malformed(bad_count, rng, "mal")
    audit.details["fuzz_draw_s"] = round(time.monotonic() - drawn, 1)
    # Interleave: the valid ones at random places among the malformed ones.
    order: list[Malformed | int] = [*bad, *range(good_count)]
    rng.shuffle(order)
    config = RigConfig("malformed", budget_s=60.0)
    rig = CommandsRig(config, logs)
    async with rig:
        assert rig.producer is not None
        assert rig.follower is not None
        producer, topics = rig.producer, rig.topics

        async def one(n: int) -> None:
            item = order[n]
            if isinstance(item, int):
                key, envelope = rig.command(item)
                await producer.send(topics.commands, envelope, key=key, ident=envelope["id"])
            else:
                await producer.send(
                    topics.commands,
                    item.value,
                    key=item.key,
                    ident=item.ident,
                    kind=f"malformed:{item.expect}",
                    headers=item.headers,
                )

        await paced(len(order), rate, one)
        await producer.flush()
        by_ident = {m.ident: m for m in bad}
        sent_bad = [s for s in producer.sent if s.kind.startswith("malformed") and s.ok]
        follower = rig.follower

        def outcome_count() -> int:
            return sum(
                1
                for s in sent_bad
                if s.kind.endswith("rejected") and follower.result_counts.get(s.ident)
            ) + len(follower.records[topics.dlq])

        # Valid results first (the rig's wait), then every malformed outcome (bounded).
        ended = await rig.wait_results(within=config.budget_s + 60, settle=0)
        await follower.wait_until(lambda: outcome_count() >= len(sent_bad), within=30)
        ended = max(ended, time.time())
        await asyncio.sleep(3)
        await rig.audit(audit, ended)
        _audit_malformed(audit, rig, sent_bad, by_ident, ended)
    audit.notes += rig.exit_notes()
    return audit


def _audit_malformed(
    audit: Audit, rig: CommandsRig, sent_bad: list, by_ident: dict, ended: float
) -> None:  # type: ignore[type-arg]
    assert rig.follower is not None
    assert rig.producer is not None
    follower, topics = rig.follower, rig.topics
    valid_sent, valid_results = audit.sent, audit.results
    # Results by command id (first arrival) and dead letters by source partition/offset.
    results: dict[str, tuple[float, dict]] = {}  # type: ignore[type-arg]
    result_counts: Counter[str] = Counter()
    for seen in follower.records[topics.results]:
        cid = str((seen.data or {}).get("command_id"))
        result_counts[cid] += 1
        results.setdefault(cid, (seen.t, seen.data or {}))
    dlq: dict[tuple[int, int], float] = {}
    dlq_counts: Counter[tuple[int, int]] = Counter()
    for seen in follower.records[topics.dlq]:
        h = dict(seen.headers)
        try:
            where = (int(h["dlq-source-partition"]), int(h["dlq-source-offset"]))
        except (KeyError, ValueError):
            where = (-1, seen.offset)
        dlq_counts[where] += 1
        dlq.setdefault(where, seen.t)
    missing, wrong, done_at = [], Counter(), []  # type: ignore[var-annotated]
    statuses: Counter[str] = Counter()
    outcomes = 0
    for s in sent_bad:
        m = by_ident[s.ident]
        as_result = s.ident in results if m.expect == "rejected" else False
        as_dlq = (s.partition, s.offset) in dlq
        if as_result:
            statuses[str(results[s.ident][1].get("status"))] += 1
            done_at.append((results[s.ident][0], s.partition))
        if as_dlq:
            done_at.append((dlq[(s.partition, s.offset)], s.partition))
        outcomes += int(as_result) + int(as_dlq)
        if not as_result and not as_dlq:
            missing.append(m)
        elif m.expect == "rejected" and as_dlq:
            h = _dlq_reason(follower, topics.dlq, s.partition, s.offset)
            wrong[f"{m.category}: expected a rejected result, got a dead letter ({h})"] += 1
        elif m.expect == "rejected" and results[s.ident][1].get("status") != "rejected":
            d = results[s.ident][1]
            error_class = (d.get("error") or {}).get("error_class")
            wrong[f"{m.category}: expected rejected, got {d.get('status')} ({error_class})"] += 1
    audit.sent = valid_sent + len(sent_bad)
    audit.results = valid_results + outcomes
    audit.missing += len(missing)
    # (duplicate results were counted by the rig's audit, over every command id)
    audit.duplicates += sum(n - 1 for n in dlq_counts.values() if n > 1)
    expected_dlq = sum(1 for s in sent_bad if by_ident[s.ident].expect == "dlq")
    audit.details["malformed"] = {
        "sent": len(sent_bad),
        "expected_rejected": len(sent_bad) - expected_dlq,
        "expected_dead_letters": expected_dlq,
        "rejected_results": sum(1 for s in sent_bad if s.ident in results),
        "dead_letters": len(follower.records[topics.dlq]),
        "statuses": dict(statuses),
        "categories": dict(Counter(by_ident[s.ident].category for s in sent_bad)),
        "missing_by_category": dict(Counter(m.category for m in missing)),
    }
    if missing:
        audit.problems.append(
            f"{len(missing)} malformed records without any outcome "
            f"({dict(Counter(m.category for m in missing).most_common(4))})"
        )
    for what, n in wrong.most_common(6):
        audit.problems.append(f"{n} x {what}")
    if len(sent_bad) != outcomes:
        audit.problems.append(
            f"counts do not add up: {len(sent_bad)} malformed sent, {outcomes} outcomes "
            "(rejected results + dead letters)"
        )
    # Stall over every record (valid and malformed): a poisoned partition shows here.
    valid_ok = [s for s in rig.producer.sent if s.kind == "valid" and s.ok]
    valid_done = [(results[s.ident][0], s.partition) for s in valid_ok if s.ident in results]
    stall, where = max_stall(
        [(s.t, s.partition) for s in [*valid_ok, *sent_bad]], [*valid_done, *done_at], ended
    )
    audit.max_stall_s = round(stall, 2)
    audit.details["max_stall_partition"] = where
    audit.notes.append(
        f"{len(sent_bad):,} malformed: {audit.details['malformed']['rejected_results']:,} rejected "
        f"results + {len(follower.records[topics.dlq]):,} dead letters "
        f"(expected {len(sent_bad) - expected_dlq:,} + {expected_dlq:,}); "
        f"{len(audit.details['malformed']['categories'])} categories"
    )


def _dlq_reason(follower, topic: str, partition: int, offset: int) -> str:  # type: ignore[no-untyped-def]
    for seen in follower.records[topic]:
        h = dict(seen.headers)
        if (
            h.get("dlq-source-partition") == str(partition).encode()
            and h.get("dlq-source-offset") == str(offset).encode()
        ):
            return h.get("dlq-reason", b"?").decode(errors="replace")[:80]
    return "?"
