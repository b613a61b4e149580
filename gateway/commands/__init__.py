"""The commands role's use cases: a command record in, the vendor called at most once, one
result (or dead letter) out; Kafka's loop, per-key order and offsets, idempotency, retries,
reconciliation and FileUpload sources. The role is wired in :mod:`gateway.app.commands_role`.

The path of one command, in order: ``consumer`` (the Kafka loop: fetch, per-key order via
``keyed``, offsets via ``offsets``, transactional publish) → ``record_outcome`` (record →
envelope → result record or dead letter) → ``handler`` (the sequence of steps) → ``request``
(payload validation, FileUpload via ``upload``) → ``guard`` (idempotency: claim, wait, replay,
heartbeat, store) → ``reconcile`` (probe or "already done" after an unknown outcome) →
``vendor_call`` (retried, rate-limited call) → ``results`` (every result built) → ``outbound``
(the result CloudEvent record, masked, size-bounded)."""

__all__: list[str] = []
