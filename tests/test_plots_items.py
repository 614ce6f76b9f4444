"""Figures show what they should: one dataset name per violin figure, one histogram per layer, marks visible."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lidscope import plots  # noqa: E402
from lidscope.experiments.grokking.plots import plot_run  # noqa: E402

rng = np.random.default_rng(0)


def _capture(monkeypatch):  # type: ignore[no-untyped-def]
    figs = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: figs.append(fig) or real_close(fig))
    return figs


def _texts(fig):  # type: ignore[no-untyped-def]
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def test_violin_figure_names_its_dataset_once(tmp_path, monkeypatch):
    figs = _capture(monkeypatch)
    plots.plot_compare({"bbc:validation": {"a": rng.normal(9, 1, 200), "b": rng.normal(8, 1, 200)}},
                       tmp_path / "v.png", title="Pointwise local dimension on bbc:validation")
    assert sum("bbc:validation" in t for t in _texts(figs[-1])) == 1


def test_multi_layer_histograms_are_small_multiples(tmp_path, monkeypatch):
    figs = _capture(monkeypatch)
    layers = {str(k): rng.normal(8 + k, 1, 300) for k in (-4, -3, -2, -1)}
    plots.plot_distribution(layers, tmp_path / "lid.png")
    hist_axes = [ax for ax in figs[-1].axes if ax.patches and ax.get_ylabel().endswith("points")]
    assert len(hist_axes) == 4
    assert [len(ax.patches) for ax in hist_axes] == [60] * 4  # one layer's histogram per panel


def test_coinciding_marks_share_one_visible_line(tmp_path, monkeypatch):
    figs = _capture(monkeypatch)
    rows = [{"step": s, "train_acc": min(1, s / 100), "val_acc": min(1, s / 200)} for s in (0, 50, 100, 200)]
    plot_run(rows, tmp_path / "g.png", marks={"LID fall onset": 100, "val acc 0.5": 100})
    ax_acc = figs[-1].axes[0]
    labels = ax_acc.get_legend_handles_labels()[1]
    assert "LID fall onset = val acc 0.5" in labels
    assert sum(1 for line in ax_acc.lines if list(line.get_xdata()) == [100, 100]) == 1
