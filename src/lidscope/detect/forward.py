"""One forward pass per model over the texts: token vectors of one layer (for LID) and, for causal LMs,
per-token log-probabilities (for the score-based membership baselines).

Log-probabilities never materialise a ``(batch, length, vocabulary)`` logits tensor: the backbone's
last hidden state goes through the LM head ``chunk`` positions at a time, and for each position only
three numbers are kept: the log-probability of the actual next token, and the mean and standard
deviation of the log-probabilities over the vocabulary under the model's own distribution (for
Min-K%++).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lidscope.extract.tokens import (TokenRules, _pad, keep_positions, plan_batches, resolve_pad_id,
                                     special_token_ids, tokenize)

#: Token positions that become LID points: no BOS/CLS, no EOS, no other special token (decoders give
#: every text the same first-position vector; special tokens are not text).
DETECT_RULES = TokenRules(keep_bos=False, drop_eos=True, drop_special=True)


class DetectError(ValueError):
    """Input `detect` cannot turn into a trustworthy result; the message names the fix."""


@dataclass
class DetectModel:
    """A model ready for detection: backbone (hidden states), optional LM head, tokenizer, identity."""

    backbone: Any
    tokenizer: Any
    name: str
    source: str
    fingerprint: dict[str, str]
    lm_head: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def is_causal_lm(self) -> bool:
        return self.lm_head is not None


def load_detect_model(spec: Any, tokenizer: Any = None, name: str | None = None) -> DetectModel:
    """Load a model spec (bundled name, local folder, ``.gguf``) or wrap an in-memory model.

    Decoders are loaded with their causal-LM head (``AutoModelForCausalLM``) so baselines can run;
    encoders (and decoders without a head) give LID only.
    """
    from transformers import AutoModelForCausalLM

    from lidscope.extract.models import ModelLoadError, load_model, wrap_model

    if isinstance(spec, DetectModel):
        return spec
    if not isinstance(spec, (str, os.PathLike)):
        head = spec.get_output_embeddings() if hasattr(spec, "get_output_embeddings") else None
        loaded = wrap_model(spec, tokenizer, name)
        return _finish(loaded.model, head, loaded, spec.config)
    try:
        loaded = load_model(spec)
    except ModelLoadError as exc:
        raise DetectError(str(exc)) from exc
    head = None
    if loaded.info.get("is_decoder"):
        folder = loaded.info.get("loaded_from") or loaded.info.get("converted_to") or loaded.source
        if Path(folder, "config.json").is_file():
            try:
                causal = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True)
                head = causal.get_output_embeddings()
                backbone = causal.get_decoder() if hasattr(causal, "get_decoder") else causal.base_model
                loaded.model = backbone.eval()
                loaded.info["lm_head"] = type(causal).__name__
            except (OSError, ValueError) as exc:
                loaded.info["lm_head"] = f"not loaded ({type(exc).__name__}: {exc}): LID only"
    return _finish(loaded.model, head, loaded, loaded.model.config)


def _finish(backbone: Any, head: Any, loaded: Any, config: Any) -> DetectModel:
    info = dict(loaded.info)
    if head is not None:
        unsupported = [k for k in ("final_logit_softcapping", "logit_scale", "output_multiplier_scale")
                       if getattr(config, k, None) not in (None, 1, 1.0)]
        if unsupported:
            info["lm_head"] = (f"not used: the model scales its logits ({', '.join(unsupported)}), which the "
                               f"chunked log-probabilities do not reproduce; LID only")
            head = None
    return DetectModel(backbone.eval(), loaded.tokenizer, loaded.name, loaded.source, loaded.fingerprint,
                       head, info)


@dataclass
class TextPass:
    """What one model gave for each text (lists indexed like the texts).

    Attributes:
        ids: token ids actually used (after truncation), int64 ``(T,)`` per text.
        keep: boolean ``(T,)`` per text: the positions that are LID points (`DETECT_RULES`).
        vectors: float32 ``(k, d)`` per text: the layer's vectors at the kept positions.
        token_logprob: float64 ``(T - 1,)`` per text: log p(token t | tokens < t) for t = 1..T-1
            (``None`` without an LM head).
        vocab_mean / vocab_std: float64 ``(T - 1,)``: mean and standard deviation of log p(z | < t)
            over the vocabulary z, weighted by p (Min-K%++).
        n_at_max_length: texts cut at ``max_length``.
    """

    ids: list[np.ndarray]
    keep: list[np.ndarray]
    vectors: list[np.ndarray]
    token_logprob: list[np.ndarray] | None
    vocab_mean: list[np.ndarray] | None
    vocab_std: list[np.ndarray] | None
    n_at_max_length: int


def chunked_logprobs(hidden: Any, targets: Any, lm_head: Any, chunk: int = 256) -> tuple[Any, Any, Any]:
    """Per-position next-token statistics from hidden states, ``chunk`` positions at a time.

    hidden: ``(n, d)`` final hidden states; targets: ``(n,)`` ids of the next tokens.
    Returns float64 ``(n,)`` tensors: log p(target), E_p[log p], std_p[log p].

    Every chunk has exactly ``chunk`` rows (the last is padded with zeros, its padding dropped): the
    ``(chunk, vocabulary)`` float64 temporaries then have one size, which the C allocator reuses. With
    one size per text (tens of MB each, below glibc's mmap threshold) the heap fragmented and a pass over
    560 texts of 64 tokens through SmolLM2's 49,152-token head grew past 14 GB.
    """
    import torch

    n = hidden.shape[0]
    lp_t, mu, sd = [], [], []
    with torch.no_grad():
        for s in range(0, n, chunk):
            h, t = hidden[s:s + chunk], targets[s:s + chunk]
            k = h.shape[0]
            if k < chunk:
                h = torch.cat([h, h.new_zeros((chunk - k, h.shape[1]))])
                t = torch.cat([t, t.new_zeros(chunk - k)])
            lp_t_s, mu_s, sd_s = _stats(lm_head(h), t)
            lp_t.append(lp_t_s[:k].clone())
            mu.append(mu_s[:k].clone())
            sd.append(sd_s[:k].clone())
    if not lp_t:
        z = torch.zeros(0, dtype=torch.float64)
        return z, z, z
    return torch.cat(lp_t), torch.cat(mu), torch.cat(sd)


def _stats(logits: Any, targets: Any) -> tuple[Any, Any, Any]:
    import torch

    logp = torch.log_softmax(logits.double(), dim=-1)
    p = logp.exp()
    m = (p * logp).sum(-1)
    var = (p * (logp - m[:, None]).square()).sum(-1)
    return logp.gather(-1, targets[:, None])[:, 0], m, var.sqrt()



def run_texts(model: DetectModel, texts: Sequence[str], *, layer: int = -1, max_length: int = 128,
              batch_size: int = 32, max_batch_tokens: int = 4096, logprobs: bool = True,
              progress: Any = None, stage: str = "forward") -> TextPass:
    """Forward every text once through ``model``; see `TextPass`."""
    import torch

    tok = model.tokenizer
    ids_list, at_max = tokenize(list(texts), tok, max_length)
    special = special_token_ids(tok)
    keeps = [keep_positions(ids, DETECT_RULES, special) for ids in ids_list]
    pad_id, _ = resolve_pad_id(tok)
    want_lp = logprobs and model.lm_head is not None
    vectors: list[Any] = [None] * len(ids_list)
    lps: list[Any] = [None] * len(ids_list)
    mus: list[Any] = [None] * len(ids_list)
    sds: list[Any] = [None] * len(ids_list)
    batches = plan_batches([len(x) for x in ids_list], batch_size, max_batch_tokens)
    done = 0
    with torch.inference_mode():
        for batch in batches:
            rows = [ids_list[i] for i in batch]
            ids, mask = _pad(rows, pad_id)
            out = model.backbone(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                                 output_hidden_states=True, return_dict=True)
            hs = out.hidden_states
            if not -len(hs) <= layer < len(hs):
                raise DetectError(f"layer {layer} does not exist: the model has {len(hs)} hidden states "
                                  f"(0 = embeddings .. {len(hs) - 1} = last).")
            h_layer = hs[layer].float()
            last = hs[-1]
            for j, i in enumerate(batch):
                n = len(ids_list[i])
                vectors[i] = h_layer[j, :n][torch.from_numpy(keeps[i])].numpy().astype(np.float32, copy=True)
            if want_lp:   # every position of the batch through the head together, in fixed-size chunks
                hid = torch.cat([last[j, : len(ids_list[i]) - 1] for j, i in enumerate(batch)])
                tgt = torch.from_numpy(np.concatenate([ids_list[i][1:] for i in batch]).astype(np.int64))
                stats = [x.numpy() for x in chunked_logprobs(hid, tgt, model.lm_head)]
                ends = np.cumsum([len(ids_list[i]) - 1 for i in batch])
                for i, a, b, c in zip(batch, *(np.split(x, ends[:-1]) for x in stats)):
                    lps[i], mus[i], sds[i] = a.copy(), b.copy(), c.copy()
            done += len(batch)
            if progress:
                progress(stage, done, len(ids_list))
    return TextPass(ids_list, keeps, vectors, lps if want_lp else None, mus if want_lp else None,
                    sds if want_lp else None, at_max)
