import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["COLUMNS"] = "200"  # rich wraps CLI output at 80 columns without a terminal; tests read whole lines

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # shared helpers (fuzzing.py) for tests in sub-folders


@pytest.fixture
def saved_figures(monkeypatch):
    """Every matplotlib figure saved during the test, in order, for reading the plotted data back."""
    from matplotlib.figure import Figure

    saved = []
    original = Figure.savefig

    def record(self, *args, **kwargs):
        saved.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return saved
