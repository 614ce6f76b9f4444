"""Sequences -> contextual token vectors of chosen layers (paper steps 2-4).

Tokenisation truncates at ``max_length``; batches are formed from sequences of similar length
(length bucketing) and padded on the right only to the longest sequence *of the batch*, so
almost no compute is spent on padding. The forward pass runs under ``torch.inference_mode()`` and
returns every hidden state; several layers come out of one pass (optionally averaged).

Layer numbering follows ``hidden_states`` of ``transformers``: ``0`` is the embedding output,
``1..n`` the blocks, ``-1`` the last block (for GPT-2/Llama-style models it already includes the
final norm).

Token rules (`TokenRules`), applied per sequence:

1. padding is never kept; it is recognised by the attention mask, never by token id, so models
   whose pad token equals their eos token (Llama-style) are handled correctly;
2. ``drop_eos`` (default on): every token whose id is the tokenizer's ``eos_token_id`` is dropped,
   except a start token at position 0 that rule 3 keeps;
3. ``keep_bos`` (default on): a ``bos`` or ``cls`` token at position 0 is kept; with
   ``keep_bos=False`` it is dropped;
4. ``drop_special`` (default off): drop every special token of the tokenizer (overrides 3).

So RoBERTa keeps ``<s>`` and drops ``</s>``; BERT keeps ``[CLS]`` and ``[SEP]`` (it has no eos);
Llama keeps ``<s>`` and drops ``</s>``; GPT-2/SmolLM2 (no start token added) drop any eos.

Token contexts (`token_contexts`): every kept token also gets a ``context`` id, equal for two
tokens exactly when the model computes their vectors from the same input, and a ``sequence_rank``
(the rank of its sequence in the lexicographic order of token ids). With the ``causal-prefix``
rule (a decoder, `context_rule`) the input of position p is the token ids ``0..p`` of its
sequence; with ``whole-sequence`` (encoders, masked-token mode, and any model whose claim to be
causal a probe refutes) it is the sequence's ids and p. `lidscope.cloud` removes duplicates by
these ids, so which points are kept does not depend on float rounding (batching, threads).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lidscope.extract.errors import ExtractionError, ModelLoadError
from lidscope.settings import BATCH_SIZE, MAX_BATCH_TOKENS, MAX_LENGTH

Progress = Callable[[str, int, int], None]
#: ``sink(vectors, meta)``: ``vectors`` maps a layer label to a float32 (k, d) array, ``meta``
#: maps ``seq_index``/``position``/``token_id`` to int arrays of length k.
Sink = Callable[[dict[str, np.ndarray], dict[str, np.ndarray]], None]


#: Bumped whenever a change to `extract` can change the vectors it returns (even at rounding
#: level, e.g. a new batching scheme): part of the embedding cache key, so old entries are not reused.
EXTRACTOR_VERSION = 2


@dataclass(frozen=True)
class TokenRules:
    """Which token positions become points. See the module docstring for the exact rules."""

    keep_bos: bool = True
    drop_eos: bool = True
    drop_special: bool = False

    def to_dict(self) -> dict[str, bool]:
        return asdict(self)


@dataclass(frozen=True)
class ExtractionConfig:
    """Extraction parameters (all recorded in results and part of the cache key).

    Attributes:
        layers: hidden-state indices (``-1`` = last).
        average_layers: average the listed layers into one vector per token.
        max_length: truncation length in tokens (special tokens included).
        batch_size: most sequences per forward pass.
        max_batch_tokens: most padded positions (rows x longest) per forward pass.
        pad_tolerance: most padding per batch as a fraction of its real positions, applied once a
            batch holds ``min_batch_tokens`` real tokens (smaller batches waste CPU time).
        rules: token filtering rules.
        masked_tokens: masked-token mode (masked LMs): mask each kept position in turn and take
            the vector at the mask position; costs one sequence copy per token.
        add_special_tokens: let the tokenizer add its special tokens (``[CLS]``, ``<s>``, ...).
        pad_token_id: id used for padding positions (never read back); ``None`` = the tokenizer's
            pad token, else its eos/bos/unk token.
    """

    layers: tuple[int, ...] = (-1,)
    average_layers: bool = False
    max_length: int = MAX_LENGTH
    batch_size: int = BATCH_SIZE
    max_batch_tokens: int = MAX_BATCH_TOKENS
    pad_tolerance: float = 0.1
    min_batch_tokens: int = 512
    rules: TokenRules = field(default_factory=TokenRules)
    masked_tokens: bool = False
    add_special_tokens: bool = True
    pad_token_id: int | None = None

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValueError("layers must list at least one hidden-state index, e.g. (-1,).")
        if self.max_length < 1 or self.batch_size < 1 or self.max_batch_tokens < 1:
            raise ValueError("max_length, batch_size and max_batch_tokens must be >= 1.")

    def layer_labels(self) -> list[str]:
        """Labels of the vectors produced: one per layer, or one for their average."""
        if self.average_layers and len(self.layers) > 1:
            return ["mean(" + ",".join(str(x) for x in self.layers) + ")"]
        return [str(x) for x in self.layers]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d


@dataclass
class ExtractStats:
    """Counts and timings of one extraction (seconds; tokens are real, unpadded positions)."""

    n_sequences: int = 0
    n_sequences_at_max_length: int = 0
    #: indices (in the extracted texts) of the sequences longer than ``max_length`` tokens: cut there
    truncated_sequences: list[int] = field(default_factory=list)
    n_tokens: int = 0
    n_tokens_kept: int = 0
    n_dropped_eos: int = 0
    n_dropped_bos: int = 0
    n_dropped_special: int = 0
    n_positions_computed: int = 0
    n_forward_passes: int = 0
    n_sequences_reused: int = 0
    n_sequences_resumed: int = 0
    n_batches_resumed: int = 0
    #: hidden states the model returned in the forward pass (embedding output + blocks; 0: no pass ran)
    n_hidden_states: int = 0
    #: ``decoder`` / ``encoder`` as the model's config declares it (`lidscope.extract.models.declares_decoder`)
    model_kind: str = ""
    #: which token inputs count as the same (`context_rule`): ``causal-prefix`` or ``whole-sequence``
    context_rule: str = ""
    #: the causality probe: largest relative change of earlier positions when the last token changes
    causal_probe: dict[str, Any] | None = None
    seconds_tokenize: float = 0.0
    seconds_forward: float = 0.0
    pad_token_id: int | None = None
    pad_token_source: str = ""

    @property
    def padding_ratio(self) -> float:
        """Computed positions / real positions (1.0 = no padding)."""
        return self.n_positions_computed / max(1, self._real_positions)

    _real_positions: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        d["n_real_positions_forwarded"] = self._real_positions
        d["padding_ratio"] = self.padding_ratio
        d["tokens_per_second"] = self._real_positions / self.seconds_forward if self.seconds_forward else None
        return d


# --------------------------------------------------------------------------------------------


def special_token_ids(tokenizer: Any) -> dict[str, Any]:
    """``{"bos": set of start ids (bos, cls), "eos": eos id or None, "special": set of ids}``."""
    bos = {i for i in (getattr(tokenizer, "bos_token_id", None), getattr(tokenizer, "cls_token_id", None)) if i is not None}
    return {
        "bos": bos,
        "eos": getattr(tokenizer, "eos_token_id", None),
        "special": set(getattr(tokenizer, "all_special_ids", []) or []),
    }


def keep_positions(ids: np.ndarray, rules: TokenRules, special: dict[str, Any]) -> np.ndarray:
    """Boolean keep-mask over one unpadded sequence of token ids ``(T,)`` (see module rules)."""
    ids = np.asarray(ids)
    keep = np.ones(ids.shape[0], dtype=bool)
    if ids.shape[0] == 0:
        return keep
    if rules.drop_special and special["special"]:
        keep &= ~np.isin(ids, list(special["special"]))
    if rules.drop_eos and special["eos"] is not None:
        keep &= ids != special["eos"]
    starts = int(ids[0]) in special["bos"]
    if starts:
        keep[0] = rules.keep_bos and not rules.drop_special
    return keep


def resolve_pad_id(tokenizer: Any, pad_token_id: int | None = None) -> tuple[int, str]:
    """Pad id and where it came from. Padding is masked and dropped, so any real id works.

    Raises:
        ModelLoadError: the tokenizer has no pad, eos, bos or unk token and none was given.
    """
    if pad_token_id is not None:
        return int(pad_token_id), "given"
    for attr in ("pad_token_id", "eos_token_id", "bos_token_id", "unk_token_id"):
        v = getattr(tokenizer, attr, None)
        if v is not None:
            return int(v), attr.replace("_token_id", "") + (" (tokenizer has no pad token)" if attr != "pad_token_id" else "")
    raise ModelLoadError(
        "the tokenizer has no pad, eos, bos or unk token, so batches cannot be padded. Pass "
        "--pad-token-id ID (any valid token id: padding positions are masked and never measured)."
    )


CAUSAL_PREFIX = "causal-prefix"
WHOLE_SEQUENCE = "whole-sequence"
#: largest relative change of an earlier position's vector, when only the last token changes, for
#: which a model counts as causal (a causal model gives 0; bidirectional attention gives ~1e-2 and up)
CAUSAL_PROBE_TOLERANCE = 1e-5


def token_contexts(ids_list: Sequence[np.ndarray], causal: bool) -> tuple[np.ndarray, list[np.ndarray]]:
    """Content ranks of sequences and context ids of their positions.

    Sequences are sorted lexicographically by token ids (a shorter prefix first). Returns
    ``(rank, context)``: ``rank[s]`` = the sorted index of the first sequence identical to ``s``
    (identical sequences share it), and ``context[s][p]`` = an id equal for two positions exactly
    when their inputs are equal: with ``causal`` the ids ``0..p`` (a shared prefix), else the whole
    sequence; the position is part of the id. Exact (no hashing); O(total tokens).
    """
    n = len(ids_list)
    stride = max((len(x) for x in ids_list), default=0) + 1
    keys = [np.asarray(x, dtype=np.int64).astype(">u8").tobytes() for x in ids_list]
    order = sorted(range(n), key=keys.__getitem__)
    rank = np.zeros(n, dtype=np.int64)
    rep: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * n
    context: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * n
    prev = -1
    group = 0
    for k, s in enumerate(order):
        ids = np.asarray(ids_list[s], dtype=np.int64)
        lcp, same = 0, False
        if prev >= 0:
            a = np.asarray(ids_list[prev], dtype=np.int64)
            m = min(len(a), len(ids))
            diff = np.flatnonzero(a[:m] != ids[:m])
            lcp = int(diff[0]) if diff.size else m
            same = lcp == len(a) == len(ids)
        if not same:
            group = k
        rank[s] = group
        if causal:
            r = np.full(len(ids), k, dtype=np.int64)
            if prev >= 0:
                r[:lcp] = rep[prev][:lcp]
        else:
            r = np.full(len(ids), group, dtype=np.int64)
        rep[s] = r
        context[s] = r * stride + np.arange(len(ids), dtype=np.int64)
        prev = s
    return rank, context


def causal_probe(model: Any, ids_list: Sequence[np.ndarray], config: ExtractionConfig) -> dict[str, Any] | None:
    """Does a position's vector depend on later tokens? One forward pass of two copies of a real
    sequence (at most 16 tokens) that differ only in their last token; the largest change of an
    earlier position in a measured layer, relative to the largest vector entry. ``None`` when every
    sequence has one token (then both rules are the same)."""
    import torch

    base = next((np.asarray(x[:16], dtype=np.int64) for x in ids_list if len(x) >= 2), None)
    if base is None:
        return None
    vocab = int(getattr(getattr(model, "config", None), "vocab_size", 0) or (int(base.max()) + 2))
    other = base.copy()
    other[-1] = (int(base[-1]) + 1) % max(vocab, 2)
    ids = np.stack([base, other])
    with torch.inference_mode():
        hidden = _forward_layers(model, ids, np.ones_like(ids), config)
    change = 0.0
    for h in hidden:
        h = h.float()
        scale = float(h[:, :-1].abs().max()) or 1.0
        change = max(change, float((h[0, :-1] - h[1, :-1]).abs().max()) / scale)
    return {"positions": int(len(base) - 1), "max_relative_change": change, "tolerance": CAUSAL_PROBE_TOLERANCE}


def context_rule(decoder: bool, probe: dict[str, Any] | None, masked_tokens: bool) -> str:
    """``causal-prefix`` for a declared decoder whose probe finds no dependence on later tokens
    (or had nothing to probe), else ``whole-sequence`` (always valid: the same ids give the same
    vector in any model). Masked-token mode replaces position p's id, so it uses whole sequences."""
    if masked_tokens or not decoder:
        return WHOLE_SEQUENCE
    if probe is not None and probe["max_relative_change"] > probe["tolerance"]:
        return WHOLE_SEQUENCE
    return CAUSAL_PREFIX


def tokenize(
    texts: Sequence[str],
    tokenizer: Any,
    max_length: int = 512,
    add_special_tokens: bool = True,
    progress: Progress | None = None,
    chunk: int = 2000,
) -> tuple[list[np.ndarray], int]:
    """Token ids per text (int64 arrays, truncated by the tokenizer to ``max_length`` with its
    special tokens kept) and how many sequences reached ``max_length`` (were likely truncated)."""
    out: list[np.ndarray] = []
    at_max = 0
    for start in range(0, len(texts), chunk):
        part = list(texts[start : start + chunk])
        enc = tokenizer(
            part, add_special_tokens=add_special_tokens, truncation=True, max_length=max_length
        )["input_ids"]
        for ids in enc:
            at_max += len(ids) >= max_length
            out.append(np.asarray(ids, dtype=np.int64))
        if progress:
            progress("tokenize", min(start + chunk, len(texts)), len(texts))
    return out, at_max


def truncated_indices(texts: Sequence[str], ids_list: Sequence[np.ndarray], tokenizer: Any, max_length: int,
                      add_special_tokens: bool = True) -> list[int]:
    """Indices of the texts that were cut at ``max_length``: those whose tokens reached it are tokenised
    again without truncation, and counted when they are longer (a text of exactly ``max_length`` tokens
    was not cut)."""
    cand = [i for i, ids in enumerate(ids_list) if len(ids) >= max_length]
    if not cand:
        return []
    enc = tokenizer([texts[i] for i in cand], add_special_tokens=add_special_tokens, truncation=False,
                    verbose=False)["input_ids"]
    return [i for i, ids in zip(cand, enc) if len(ids) > max_length]


def plan_batches(
    lengths: Sequence[int],
    batch_size: int,
    max_batch_tokens: int,
    pad_tolerance: float = 0.1,
    min_batch_tokens: int = 512,
) -> list[np.ndarray]:
    """Length-bucketed batches of indices into ``lengths``.

    Indices are sorted by length (longest first) and cut into consecutive runs. A batch is closed
    before the next sequence when it already has ``batch_size`` rows, when adding the sequence
    would exceed ``max_batch_tokens`` padded positions (rows x longest), or -- once the batch holds
    at least ``min_batch_tokens`` real tokens -- when its padding would exceed ``pad_tolerance`` x
    its real tokens. The last rule bounds the padding overhead; the minimum keeps batches large
    enough on CPU, where every forward call streams all weights from memory.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    batches: list[np.ndarray] = []
    cur: list[int] = []
    longest = 0
    real = 0
    for i in order:
        n = int(lengths[i])
        if cur:
            padded = (len(cur) + 1) * longest
            if (
                len(cur) >= batch_size
                or padded > max_batch_tokens
                or (real >= min_batch_tokens and padded > (1.0 + pad_tolerance) * (real + n))
            ):
                batches.append(np.asarray(cur, dtype=np.int64))
                cur, longest, real = [], 0, 0
        cur.append(int(i))
        longest = max(longest, n)
        real += n
    if cur:
        batches.append(np.asarray(cur, dtype=np.int64))
    return batches


def _pad(rows: list[np.ndarray], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for j, r in enumerate(rows):
        ids[j, : len(r)] = r
        mask[j, : len(r)] = 1
    return ids, mask


def _device_of(model: Any) -> Any:
    """The device of the model's parameters (inputs are moved there; vectors come back to CPU)."""
    import torch

    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


def plan_digest(ids_list: Sequence[np.ndarray], work: Sequence[tuple[int, int]], batches: Sequence[np.ndarray]) -> str:
    """SHA-256 of the token ids, the work items and their batches: equal digests, equal sink calls."""
    import hashlib

    h = hashlib.sha256()
    for ids in ids_list:
        h.update(np.int64(len(ids)).tobytes())
        h.update(np.asarray(ids, dtype=np.int64).tobytes())
    h.update(np.asarray(work, dtype=np.int64).tobytes())
    for b in batches:
        h.update(b"|" + np.asarray(b, dtype=np.int64).tobytes())
    return h.hexdigest()


def hidden_state_count(model_config: Any) -> int | None:
    """Hidden states a transformers model returns (blocks + 1 for the embeddings), from its config;
    ``None`` when the config does not say."""
    n = getattr(model_config, "num_hidden_layers", None)
    return n + 1 if isinstance(n, int) and n >= 0 else None


def check_layers(layers: Sequence[int], n: int | None) -> None:
    """Raise `ExtractionError` for a layer index outside ``n`` hidden states (``None``: unknown, no check)."""
    if n is None:
        return
    for layer in layers:
        if not -n <= layer < n:
            raise ExtractionError(
                f"layer {layer} does not exist: this model has {n} hidden states "
                f"(0 = embeddings .. {n - 1} = last; negatives count from the end: -1 .. -{n})."
            )


def _forward_layers(model: Any, ids: np.ndarray, mask: np.ndarray, config: ExtractionConfig,
                   stats: ExtractStats | None = None) -> list[Any]:
    """Hidden states of the configured layers, float32 tensors ``(rows, width, d)`` (all of them from
    this one call; ``stats.n_hidden_states`` is set to how many the model returned)."""
    import torch

    device = _device_of(model)
    out = model(
        input_ids=torch.from_numpy(ids).to(device),
        attention_mask=torch.from_numpy(mask).to(device),
        output_hidden_states=True,
        return_dict=True,
    )
    hs = getattr(out, "hidden_states", None)
    if hs is None:
        raise ExtractionError(
            f"{type(model).__name__} returned no hidden_states; lidscope needs a transformers model "
            "that supports output_hidden_states=True."
        )
    check_layers(config.layers, len(hs))
    if stats is not None:
        stats.n_hidden_states = len(hs)
    chosen = [hs[layer].float() for layer in config.layers]
    if config.average_layers and len(chosen) > 1:
        return [torch.stack(chosen).mean(dim=0)]
    return chosen


def extract(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    config: ExtractionConfig,
    sink: Sink,
    progress: Progress | None = None,
    decoder: bool | None = None,
    check: Callable[[ExtractStats], None] | None = None,
    resume: Callable[[str], int] | None = None,
) -> ExtractStats:
    """Run the model over ``texts`` and hand the kept token vectors to ``sink`` batch by batch.

    Each sink call gets, per layer label, a float32 ``(k, d)`` array, and per-row metadata
    ``seq_index`` (index into ``texts``), ``position`` (token position), ``token_id``,
    ``sequence_rank`` and ``context`` (`token_contexts`).
    Rows arrive in processing (length-bucketed) order; sort by (seq_index, position) for text order.
    ``decoder``: whether the model is a causal decoder (None: as its config declares,
    `lidscope.extract.models.declares_decoder`); a probe checks it (`context_rule`).
    ``check(stats)``, when given, runs after tokenisation and before the first forward pass (the
    token counts are known then); it raises to stop a run whose result could not be used.
    ``resume(plan_digest)``, when given, is told a digest of the batch plan (token ids, work items,
    batches) and returns how many leading batches the sink already holds from an interrupted run of
    the same plan (`lidscope.extract.cache.CacheWriter.resume`); those are not run again, so the
    sink ends with exactly the rows, in the order, of an uninterrupted run.

    Raises:
        ExtractionError: bad layer index, no hidden states, no mask token in masked mode.
        ModelLoadError: no usable pad token.
    """
    import torch

    stats = ExtractStats(n_sequences=len(texts))
    pad_id, pad_src = resolve_pad_id(tokenizer, config.pad_token_id)
    stats.pad_token_id, stats.pad_token_source = pad_id, pad_src
    special = special_token_ids(tokenizer)

    t0 = time.perf_counter()
    ids_list, stats.n_sequences_at_max_length = tokenize(
        texts, tokenizer, config.max_length, config.add_special_tokens, progress
    )
    stats.truncated_sequences = truncated_indices(texts, ids_list, tokenizer, config.max_length,
                                                  config.add_special_tokens)
    keeps = [keep_positions(ids, config.rules, special) for ids in ids_list]
    for ids, keep in zip(ids_list, keeps):
        stats.n_tokens += len(ids)
        stats.n_tokens_kept += int(keep.sum())
        dropped = ids[~keep]
        if len(ids) and not keep[0] and int(ids[0]) in special["bos"]:
            stats.n_dropped_bos += 1
            dropped = ids[1:][~keep[1:]]
        if config.rules.drop_eos and special["eos"] is not None:
            n_eos = int((dropped == special["eos"]).sum())
            stats.n_dropped_eos += n_eos
            stats.n_dropped_special += len(dropped) - n_eos
        else:
            stats.n_dropped_special += len(dropped)
    stats.seconds_tokenize = time.perf_counter() - t0
    if stats.n_tokens_kept == 0:
        raise ExtractionError(
            f"no token survives the filtering rules in {len(texts)} sequences (rules: "
            f"{config.rules.to_dict()}). Check the texts are not empty and loosen the rules."
        )
    check_layers(config.layers, hidden_state_count(getattr(model, "config", None)))
    if check is not None:
        check(stats)

    # identical token sequences are run once and their vectors copied: saves compute and keeps
    # their vectors bit-identical (so they are found as exact duplicates) whatever the batching
    first_of: dict[bytes, int] = {}
    copies: dict[int, list[int]] = {}
    for s, ids in enumerate(ids_list):
        r = first_of.setdefault(ids.tobytes(), s)
        if r != s:
            copies.setdefault(r, []).append(s)
    reps = [s for s in range(len(ids_list)) if first_of[ids_list[s].tobytes()] == s and keeps[s].any()]
    stats.n_sequences_reused = int(sum(len(v) for v in copies.values()))

    if decoder is None:
        from lidscope.extract.models import declares_decoder

        decoder = declares_decoder(getattr(model, "config", None))
    stats.model_kind = "decoder" if decoder else "encoder"
    if decoder and not config.masked_tokens:
        stats.causal_probe = causal_probe(model, [ids_list[s] for s in reps], config)
    stats.context_rule = context_rule(decoder, stats.causal_probe, config.masked_tokens)
    seq_rank, contexts = token_contexts(ids_list, stats.context_rule == CAUSAL_PREFIX)

    mask_id = None
    if config.masked_tokens:
        mask_id = getattr(tokenizer, "mask_token_id", None)
        if mask_id is None:
            raise ExtractionError(
                "masked-token mode needs a tokenizer with a mask token (a masked LM such as BERT or "
                "RoBERTa); this one has none. Drop --masked-tokens."
            )
        work = [(s, int(p)) for s in reps for p in np.flatnonzero(keeps[s])]
    else:
        work = [(s, -1) for s in reps]
    lengths = [len(ids_list[s]) for s, _ in work]
    batches = plan_batches(lengths, config.batch_size, config.max_batch_tokens, config.pad_tolerance,
                           config.min_batch_tokens)

    real_total = int(sum(lengths))
    remaining: dict[int, int] = {}
    for s_, _ in work:
        remaining[s_] = remaining.get(s_, 0) + 1
    n_done = len(ids_list) - sum(1 + len(copies.get(s_, [])) for s_ in remaining)  # nothing to run
    if progress:
        progress("extract", n_done, len(ids_list))
    real_done = 0
    skip = 0
    if resume is not None:
        skip = int(resume(plan_digest(ids_list, work, batches)))
        if not 0 <= skip <= len(batches):
            raise ExtractionError(f"resume asked to skip {skip} of {len(batches)} batches")
    for batch in batches[:skip]:
        for s_, _ in (work[i] for i in batch):
            remaining[s_] -= 1
            if remaining[s_] == 0:
                n_done += 1 + len(copies.get(s_, []))
                stats.n_sequences_resumed += 1 + len(copies.get(s_, []))
        stats.n_positions_computed += len(batch) * max(lengths[i] for i in batch)
    stats.n_batches_resumed = skip
    if progress and skip:
        progress("extract", n_done, len(ids_list))
    t1 = time.perf_counter()
    with torch.inference_mode():
        for batch in batches[skip:]:
            items = [work[i] for i in batch]
            rows = []
            for s, p in items:
                r = ids_list[s]
                if p >= 0:
                    r = r.copy()
                    r[p] = mask_id
                rows.append(r)
            ids, mask = _pad(rows, pad_id)
            stats.n_positions_computed += ids.size
            stats.n_forward_passes += 1
            hidden = _forward_layers(model, ids, mask, config, stats)
            sel_row: list[np.ndarray] = []
            sel_pos: list[np.ndarray] = []
            sel_seq: list[np.ndarray] = []
            sel_ctx: list[np.ndarray] = []
            for j, (s, p) in enumerate(items):
                pos = np.flatnonzero(keeps[s]) if p < 0 else np.asarray([p])
                for target in [s, *copies.get(s, [])]:
                    sel_row.append(np.full(len(pos), j, dtype=np.int64))
                    sel_pos.append(pos)
                    sel_seq.append(np.full(len(pos), target, dtype=np.int64))
                    sel_ctx.append(contexts[target][pos])
                remaining[s] -= 1
                if remaining[s] == 0:
                    n_done += 1 + len(copies.get(s, []))
            rr = np.concatenate(sel_row)
            pp = np.concatenate(sel_pos)
            seq_idx = np.concatenate(sel_seq)
            vectors = {
                label: h[torch.from_numpy(rr).to(h.device), torch.from_numpy(pp).to(h.device)]
                .cpu().numpy().astype(np.float32, copy=False)
                for label, h in zip(config.layer_labels(), hidden)
            }
            meta = {
                "seq_index": seq_idx,
                "position": pp.astype(np.int64),
                "token_id": np.asarray([ids_list[s][q] for s, q in zip(seq_idx, pp)], dtype=np.int64),
                "sequence_rank": seq_rank[seq_idx],
                "context": np.concatenate(sel_ctx),
            }
            sink(vectors, meta)
            real = int(sum(len(r) for r in rows))
            real_done += real
            stats._real_positions += real
            if progress:
                progress("extract", n_done, len(ids_list))
                progress("extract_tokens", real_done, real_total)
    stats.seconds_forward = time.perf_counter() - t1
    return stats
