"""Wire contracts: the command envelope, result and change events, Kafka header names.

`envelope` (reading a command off a record), `results` (result events), `changes` and
`events` (the poller's change events and the CloudEvent models), `headers` (header names),
`masking` (vendor secrets masked before a result leaves the gateway).
"""

__all__: list[str] = []
