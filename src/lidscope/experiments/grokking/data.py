"""Modular arithmetic data for the grokking experiment: ``a op b = c (mod p)``.

Every sequence is four tokens ``[a, op, b, =]``; the label ``c`` is predicted at the last position.
Token ids: ``0..p-1`` are the residues, ``p..p+3`` the operations ``+ - * /`` and ``p+4`` is ``=``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

OPERATIONS: tuple[str, ...] = ("+", "-", "*", "/")
SEQUENCE_LENGTH = 4
#: Positions of the operand tokens ``a`` and ``b`` in ``[a, op, b, =]``.
OPERAND_POSITIONS: tuple[int, ...] = (0, 2)
ALL_POSITIONS: tuple[int, ...] = (0, 1, 2, 3)
POSITION_SETS: dict[str, tuple[int, ...]] = {"all": ALL_POSITIONS, "operands": OPERAND_POSITIONS}


def is_prime(n: int) -> bool:
    """Trial-division primality test (moduli here are small)."""
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


def vocab_size(prime: int) -> int:
    """Number of token ids for modulus ``prime``: residues, four operations and ``=``."""
    return prime + len(OPERATIONS) + 1


def check_operation(op: str, prime: int) -> None:
    """Raise ``ValueError`` for an unknown operation or a modulus the operation cannot use."""
    if op not in OPERATIONS:
        raise ValueError(f"unknown operation {op!r}: use one of {', '.join(OPERATIONS)}")
    if prime < 2:
        raise ValueError(f"modulus must be at least 2, got {prime}")
    if op == "/" and not is_prime(prime):
        raise ValueError(
            f"division mod {prime} needs a prime modulus (every non-zero b must have an inverse); "
            f"{prime} is not prime: use e.g. 97 or 113"
        )


def check_train_fraction(train_fraction: float) -> None:
    """Raise ``ValueError`` unless ``0 < train_fraction < 1``."""
    if not (0.0 < float(train_fraction) < 1.0):
        raise ValueError(
            f"train fraction must lie strictly between 0 and 1 (e.g. 0.3), got {train_fraction}"
        )


def all_equations(prime: int, op: str) -> tuple[np.ndarray, np.ndarray]:
    """All equations for ``op`` mod ``prime`` in (a, b) order: token array (n, 4) and labels (n,).

    Division ``a / b`` is ``a * b^(p-2) mod p`` and skips ``b = 0``.
    """
    check_operation(op, prime)
    a, b = np.meshgrid(np.arange(prime, dtype=np.int64), np.arange(prime, dtype=np.int64), indexing="ij")
    a, b = a.ravel(), b.ravel()
    if op == "+":
        c = (a + b) % prime
    elif op == "-":
        c = (a - b) % prime
    elif op == "*":
        c = (a * b) % prime
    else:
        keep = b != 0
        a, b = a[keep], b[keep]
        inverse = np.array([pow(int(x), prime - 2, prime) for x in range(prime)], dtype=np.int64)
        c = (a * inverse[b]) % prime
    op_token = prime + OPERATIONS.index(op)
    eq_token = prime + len(OPERATIONS)
    tokens = np.stack([a, np.full_like(a, op_token), b, np.full_like(a, eq_token)], axis=1)
    return tokens, c


@dataclass(frozen=True)
class ModularData:
    """A train/validation split of all equations for one operation and modulus."""

    prime: int
    op: str
    train_fraction: float
    seed: int
    train_tokens: torch.Tensor  # (n_train, 4) int64
    train_labels: torch.Tensor  # (n_train,) int64
    val_tokens: torch.Tensor
    val_labels: torch.Tensor

    @property
    def n_train(self) -> int:
        return int(self.train_labels.shape[0])

    @property
    def n_val(self) -> int:
        return int(self.val_labels.shape[0])


def make_data(prime: int, op: str, train_fraction: float, seed: int = 0) -> ModularData:
    """Shuffle all equations with ``seed`` and put the first ``round(fraction * n)`` in train.

    Both splits are non-empty; raises ``ValueError`` for bad arguments.
    """
    check_train_fraction(train_fraction)
    tokens, labels = all_equations(prime, op)
    n = len(labels)
    n_train = int(round(train_fraction * n))
    if n_train < 1 or n_train >= n:
        raise ValueError(
            f"train fraction {train_fraction} leaves an empty split of the {n} equations mod {prime}: "
            "use a larger prime or a fraction nearer 0.5"
        )
    order = np.random.default_rng(seed).permutation(n)
    tr, va = order[:n_train], order[n_train:]
    return ModularData(
        prime=prime,
        op=op,
        train_fraction=float(train_fraction),
        seed=seed,
        train_tokens=torch.from_numpy(tokens[tr].copy()),
        train_labels=torch.from_numpy(labels[tr].copy()),
        val_tokens=torch.from_numpy(tokens[va].copy()),
        val_labels=torch.from_numpy(labels[va].copy()),
    )


def distinct_prefixes(tokens: torch.Tensor | np.ndarray, positions: tuple[int, ...]) -> int:
    """How many distinct causal prefixes ``tokens[:, :k+1]`` the given positions have.

    In a causal model the hidden state at position k depends only on that prefix, so this is an
    upper bound on the number of distinct hidden-state vectors those positions can yield.
    """
    arr = np.asarray(tokens)
    total = 0
    for k in positions:
        total += len(np.unique(arr[:, : k + 1], axis=0))
    return total
