"""Simple token classes that need no extra model, from the token strings alone.

A token string is first read under its tokenizer's sub-word convention:

- byte-level BPE (GPT-2, Llama 3, SmolLM2): ``Ġ`` marks a leading space, ``Ċ`` a newline; a piece
  starts a word when it starts with one of them (or is the first token of its sequence);
- WordPiece (BERT, MiniLM): ``##`` marks a continuation; every other piece starts a word;
- SentencePiece (T5, Llama 2): ``▁`` marks a leading space.

Each token gets exactly one class, the first that applies in this order: ``special`` (e.g.
``[CLS]``, ``<s>``, ``<|im_start|>``), ``whitespace``, ``punctuation`` (only punctuation or
symbol characters), ``number`` (digits, possibly with ``.``/``,``), ``function word`` (a
word-starting piece whose text is in `FUNCTION_WORDS`: determiners, pronouns, prepositions,
conjunctions, auxiliaries), ``word start`` (other word-starting pieces) and ``continuation``.
A function word split into several pieces is not recognised as one (the class reads one
piece); a word-starting piece whose word continues is still ``word start``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import numpy as np

CLASSES = ("special", "whitespace", "punctuation", "number", "function word", "word start", "continuation")

FUNCTION_WORDS = frozenset("""
a an the this that these those some any no every each either neither all both half several many much few
little more most less least other another such what which whose whatever whichever
i me my mine myself you your yours yourself yourselves he him his himself she her hers herself it its itself
we us our ours ourselves they them their theirs themselves one ones who whom whoever
about above across after against along among around as at before behind below beneath beside besides
between beyond but by despite down during except for from in inside into like near of off on onto out
outside over past per since than through throughout till to toward towards under underneath unlike until
up upon via with within without
and or nor so yet if because although though while whereas unless whether once when where why how
be am is are was were been being have has had having do does did doing done will would shall should can
could may might must ought not n't 's 're 've 'd 'll 'm
there here then now just also too very only even
""".split())

_SPECIAL = re.compile(r"^(\[[A-Za-z_]+\]|<\|?[^<>\s]+\|?>|<[a-z/]+>)$")
_NUMBER = re.compile(r"^[0-9][0-9.,]*$|^[.,][0-9][0-9.,]*$")


def convention(tokens: Iterable[str]) -> str:
    """``"bpe"`` (``Ġ``), ``"sentencepiece"`` (``▁``) or ``"wordpiece"`` (default), by majority marks."""
    g = s = w = 0
    for t in tokens:
        if t.startswith("Ġ") or t.startswith("Ċ"):
            g += 1
        elif t.startswith("▁"):
            s += 1
        elif t.startswith("##"):
            w += 1
    if g >= max(s, 1) and g >= w:
        return "bpe"
    if s >= max(w, 1):
        return "sentencepiece"
    return "wordpiece"


def surface(token: str, conv: str) -> tuple[str, bool]:
    """(text of the piece, whether it marks a word start) under convention ``conv``."""
    if conv == "wordpiece":
        if token.startswith("##"):
            return token[2:], False
        return token, True
    if conv == "sentencepiece":
        return token.replace("▁", " ").lstrip(" "), token.startswith("▁")
    text = token.replace("Ġ", " ").replace("Ċ", "\n").replace("ĉ", "\t")
    return text.strip(" "), token.startswith(("Ġ", "Ċ", "ĉ"))


def _is_punct(text: str) -> bool:
    return bool(text) and all(unicodedata.category(c)[0] in "PS" for c in text)


def classify(token: str, conv: str, first: bool = False) -> str:
    """The class of one token string (see the module docstring); ``first``: position 0 of its text."""
    if _SPECIAL.match(token):
        return "special"
    text, starts = surface(token, conv)
    if not text.strip():
        return "whitespace"
    text = text.strip()
    if _is_punct(text):
        return "punctuation"
    if _NUMBER.match(text):
        return "number"
    starts = starts or first or conv == "wordpiece" and not token.startswith("##")
    if starts and text.lower() in FUNCTION_WORDS:
        return "function word"
    return "word start" if starts else "continuation"


def classify_all(tokens: Iterable[str], positions: Iterable[int] | None = None, conv: str | None = None) -> np.ndarray:
    """Classes of many tokens (object array); ``positions`` marks position-0 tokens as word starts."""
    toks = list(tokens)
    conv = conv or convention(toks)
    pos = list(positions) if positions is not None else [1] * len(toks)
    cache: dict[tuple[str, bool], str] = {}
    out = np.empty(len(toks), dtype=object)
    for i, (t, p) in enumerate(zip(toks, pos)):
        key = (t, p == 0)
        c = cache.get(key)
        if c is None:
            c = cache[key] = classify(t, conv, first=p == 0)
        out[i] = c
    return out


def display(token: str, conv: str) -> str:
    """A readable form of a token string (``Ġthe`` -> ``␣the``, ``Ċ`` -> ``⏎``)."""
    if conv == "bpe":
        return token.replace("Ġ", "␣").replace("Ċ", "⏎").replace("ĉ", "⇥")
    if conv == "sentencepiece":
        return token.replace("▁", "␣")
    return token
