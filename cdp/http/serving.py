"""Garbage-collector settings for a serving process."""

from __future__ import annotations

import gc

# The cyclic collector's first threshold for a serving process (CPython's default: 700).
# Every request leaves a few dozen objects in reference cycles (the request's session and
# connection wrappers, werkzeug's request); with 700 a young collection runs every few
# requests and promotes what the threads in flight hold, which triggers full collections
# that hold the GIL long enough to stall every thread of the worker. A higher threshold makes
# young collections far rarer and full ones rare (BENCHMARKS.md, read path).
SERVING_GC_THRESHOLD = (10_000, 10, 10)


def prepare_gc_for_serving() -> None:
    """Call once the app is built: freeze what start-up loaded (it lives as long as the
    worker, so no collection should walk it again) and raise the young threshold."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLD)
