"""Helpers shared by the benchmarks (bench/), the chaos suite (chaos/) and the tests (tests/).

Kept apart from all three so that none of them imports another's modules; it needs only the
standard library and aiokafka, and is importable from the repo root (the editable install
puts it on ``sys.path``, as it does ``gateway``). Not part of the shipped wheel.
"""
