"""The default executor: runs jobs one after another in this process."""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from lidscope.executors import JobFn, JobOutcome, register_executor


class LocalExecutor:
    """Runs each job in-process, in order. A failing job becomes a failed `JobOutcome`.

    Jobs run sequentially: on a CPU the forward pass and the neighbour search already use every
    core, and one model in memory at a time keeps memory bounded.
    """

    name = "local"

    def map(self, fn: JobFn, payloads: Sequence[dict[str, Any]]) -> Iterator[JobOutcome]:
        for payload in payloads:
            t = time.perf_counter()
            try:
                result = fn(payload)
            except Exception as exc:  # noqa: BLE001 -- a bad job must not stop the others
                yield JobOutcome(payload, False, error=f"{type(exc).__name__}: {exc}",
                                 traceback=traceback.format_exc(), seconds=time.perf_counter() - t)
                continue
            yield JobOutcome(payload, True, result=result, seconds=time.perf_counter() - t)


register_executor("local", LocalExecutor)
