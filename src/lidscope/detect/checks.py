"""Input checks of `detect`: what would make a verdict measure something other than membership.

Each returns warning strings (empty when fine) or raises `DetectError` where no result can be trusted.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Any, Sequence

import numpy as np

from lidscope.detect.forward import DetectError

#: Mean token length of a candidate set vs the reference outside [1/r, r] -> a warning.
LENGTH_RATIO = 1.5
#: Total-variation distance between the writing-script mixes of two sets above this -> a warning.
SCRIPT_TVD = 0.2
#: Base-model loss AUC (candidate vs reference) farther than this from 0.5 -> a warning.
BASE_AUC_MARGIN = 0.15


def check_sizes(sets: dict[str, Sequence[str]], minimum: int) -> None:
    """Every set needs ``minimum`` non-empty texts for an interval and a test."""
    small = {k: len(v) for k, v in sets.items() if len(v) < minimum}
    if small:
        listing = ", ".join(f"{k!r}: {n}" for k, n in small.items())
        raise DetectError(f"too few texts for an interval ({listing}); every candidate set and the reference need at "
                          f"least {minimum} texts (more give tighter intervals: hundreds for text-level scores).")


def _script(ch: str) -> str:
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return "other"
    return name.split(" ")[0]


def script_mix(texts: Sequence[str], max_chars: int = 200_000) -> Counter:
    """Share of letters per Unicode script (``LATIN``, ``CYRILLIC``, ``CJK``, ...)."""
    c: Counter = Counter()
    seen = 0
    for t in texts:
        for ch in t:
            if ch.isalpha():
                c[_script(ch)] += 1
        seen += len(t)
        if seen > max_chars:
            break
    total = sum(c.values()) or 1
    return Counter({k: v / total for k, v in c.items()})


def check_comparable(name: str, cand_lengths: Sequence[int], ref_lengths: Sequence[int], cand_texts: Sequence[str],
                     ref_texts: Sequence[str]) -> list[str]:
    """Warnings when a candidate set and the reference differ in length or writing script."""
    out = []
    a, b = float(np.mean(cand_lengths)), float(np.mean(ref_lengths))
    if b > 0 and not 1 / LENGTH_RATIO <= a / b <= LENGTH_RATIO:
        out.append(f"{name}: texts are {a / b:.2f}x as long as the reference on average ({a:.0f} vs {b:.0f} tokens "
                   f"after truncation); length moves every score, so a difference may be length, not membership. "
                   f"Draw the reference from texts of the same length (or lower --max-length).")
    sa, sb = script_mix(cand_texts), script_mix(ref_texts)
    tvd = 0.5 * sum(abs(sa.get(k, 0) - sb.get(k, 0)) for k in set(sa) | set(sb))
    if tvd > SCRIPT_TVD:
        top = lambda s: ", ".join(f"{k.lower()} {v:.0%}" for k, v in s.most_common(2)) or "no letters"  # noqa: E731
        out.append(f"{name}: the writing script differs from the reference (candidate {top(sa)}; reference {top(sb)}; "
                   f"distance {tvd:.2f}): probably another language. A verdict would measure the language, not "
                   f"membership; use a reference in the candidate's language.")
    overlap = len(set(cand_texts) & set(ref_texts))
    if overlap:
        out.append(f"{name}: {overlap} text(s) appear both in this set and in the reference; remove them (the test "
                   f"assumes the reference holds only texts not trained on).")
    return out


def check_base_separates(name: str, base_auc: dict[str, Any]) -> list[str]:
    """A warning when the *base* model already tells the candidate set from the reference."""
    a, lo, hi = base_auc["auc"], base_auc["low"], base_auc["high"]
    if abs(a - 0.5) > BASE_AUC_MARGIN and not lo <= 0.5 <= hi:
        return [f"{name}: the base model's loss already separates this set from the reference (AUC {a:.2f}, "
                f"95% interval {lo:.2f}-{hi:.2f}) before any fine-tuning: the two are not the same kind of text, so "
                f"scores reflect that difference as well as membership. Prefer the paired shift against the base, "
                f"and a reference drawn like the candidates."]
    return []


def check_tokenizers(model: Any, base: Any, texts: Sequence[str], max_length: int) -> None:
    """The base must split the texts into the same tokens as the model, or positions do not pair."""
    from lidscope.extract.tokens import tokenize

    va, vb = model.tokenizer.get_vocab(), base.tokenizer.get_vocab()
    sample = list(texts[:200])
    ia, _ = tokenize(sample, model.tokenizer, max_length)
    ib, _ = tokenize(sample, base.tokenizer, max_length)
    bad = sum(not np.array_equal(x, y) for x, y in zip(ia, ib))
    if va != vb or bad:
        raise DetectError(
            f"the base model's tokenizer differs from the model's ({'vocabularies differ' if va != vb else 'same vocabulary'}"
            f"; {bad} of {len(sample)} sample texts tokenised differently): token positions cannot be paired and the "
            f"reference-model ratio compares different units. Pass the base model this model was fine-tuned from (same "
            f"tokenizer), or run without --base (shift against the reference only).")
