"""One setting for every fuzz test (hypothesis), short in the default suite, long a command away.

    pytest -q -m fuzz                                  # the short setting (also part of the full suite)
    LIDSCOPE_FUZZ=long pytest -p no:xdist -q -m fuzz   # the long setting: many more examples per test

Fuzz tests use ``@FUZZ`` (instead of their own ``@settings``) and ``@pytest.mark.fuzz``, so both
switches reach all of them. ``LIDSCOPE_FUZZ=<number>`` sets the examples per test directly.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: examples per fuzz test: the short setting keeps the default suite fast, the long one is for a
#: run of its own (an hour or so on two cores)
SHORT_EXAMPLES = 25
LONG_EXAMPLES = 1000


def fuzz_examples() -> int:
    value = os.environ.get("LIDSCOPE_FUZZ", "").strip().lower()
    if value == "long":
        return LONG_EXAMPLES
    if value.isdigit():
        return int(value)
    return SHORT_EXAMPLES


FUZZ = settings(max_examples=fuzz_examples(), deadline=None, derandomize=os.environ.get("LIDSCOPE_FUZZ") is None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
