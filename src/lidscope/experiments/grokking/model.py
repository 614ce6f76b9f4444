"""A small causal transformer for modular arithmetic (pre-LayerNorm, prediction at the last position)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """Transformer shape; the defaults are the paper's grokking model."""

    vocab_size: int
    n_classes: int
    seq_len: int = 4
    n_layers: int = 2
    d_model: int = 128
    n_heads: int = 4
    d_ff: int = 512
    dropout: float = 0.1


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention with a causal mask."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.d_model % cfg.n_heads:
            raise ValueError(f"d_model {cfg.d_model} must be divisible by n_heads {cfg.n_heads}")
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """Attention output for every position, or only for the last one if ``last_only``."""
        b, t, d = x.shape
        h = self.n_heads
        k, v = (self.qkv.weight[d:], self.qkv.bias[d:]) if last_only else (None, None)
        if last_only:
            # the last query sees every key, so no mask is needed and only its row is computed
            q = F.linear(x[:, -1:], self.qkv.weight[:d], self.qkv.bias[:d])
            k, v = F.linear(x, k, v).split(d, dim=2)
            tq, causal = 1, False
        else:
            q, k, v = self.qkv(x).split(d, dim=2)
            tq, causal = t, True
        q = q.view(b, tq, h, d // h).transpose(1, 2)
        k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (k, v))
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=causal, dropout_p=self.dropout if self.training else 0.0
        )
        return self.proj(y.transpose(1, 2).reshape(b, tq, d))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: ``x + attn(ln(x))`` then ``x + ff(ln(x))``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.ff = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model)
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """All positions, or (``last_only``) just the last one, shape (batch, 1, d_model)."""
        a = self.drop(self.attn(self.ln1(x), last_only=last_only))
        x = (x[:, -1:] if last_only else x) + a
        return x + self.drop(self.ff(self.ln2(x)))


class GrokTransformer(nn.Module):
    """Token + learned position embeddings, pre-LN blocks, final LayerNorm, linear head.

    ``forward`` returns logits at the last position and the last block's hidden states
    (after the final LayerNorm, the convention of ``hidden_states[-1]`` in GPT-2-style models).
    With ``last_only`` (used for training, where only the last position has a loss) the last block
    computes only the last position, and the hidden states returned are that position's alone.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.n_classes)

    def get_input_embeddings(self) -> nn.Embedding:
        """The token embedding (transformers' name): its rows are the point cloud of Tang et al."""
        return self.tok

    def forward(self, tokens: torch.Tensor, last_only: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``tokens`` (batch, seq) -> (logits (batch, n_classes), hidden (batch, seq, d_model))."""
        t = tokens.shape[1]
        x = self.tok(tokens) + self.pos(torch.arange(t, device=tokens.device))
        x = self.drop(x)
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x = block(x, last_only=last_only and i == last)
        hidden = self.ln_f(x)
        return self.head(hidden[:, -1]), hidden
