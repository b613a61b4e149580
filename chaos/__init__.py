"""The chaos suite (issue 7): faults under load against real Kafka, Redis and the simulator,
each case ending with an audit. Run it with ``python chaos/run.py`` or ``make chaos``."""
