"""Tiny random models built from configs and small word-level tokenizers (tests only)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = (
    "the a an and or but if then so because i you he she we they it is are was were be been have has "
    "had do does did not no yes hello hi how what why where when who which this that these those my your "
    "good bad great nice fine ok okay love like hate want need go going went come came see saw know think "
    "day time year people way thing man woman child world life hand part place case week work school "
    "music movie book game food dog cat friend family home city country money car house water today"
).split()


def make_tokenizer(kind: str):
    """A word-level fast tokenizer with the special-token conventions of ``kind``.

    bert: [CLS] x [SEP], pad [PAD], no bos/eos; roberta: <s> x </s>, pad <pad>;
    llama: <s> x, eos </s>, pad = eos; gpt2: no added tokens, bos = eos = <|endoftext|>, no pad.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = {
        "bert": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        "roberta": ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        "llama": ["<unk>", "<s>", "</s>"],
        "gpt2": ["<|endoftext|>", "<unk>"],
    }[kind]
    vocab = {t: i for i, t in enumerate(specials + WORDS)}
    unk = [t for t in specials if "unk" in t.lower()][0]
    tok = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if kind == "bert":
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
        kw = dict(pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    elif kind == "roberta":
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])])
        kw = dict(bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>", pad_token="<pad>",
                  unk_token="<unk>", mask_token="<mask>")
    elif kind == "llama":
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
        kw = dict(bos_token="<s>", eos_token="</s>", pad_token="</s>", unk_token="<unk>")
    else:
        kw = dict(bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<unk>")
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kw)


def make_model(kind: str, vocab_size: int):
    import torch
    from transformers import (BertConfig, BertModel, GPT2Config, GPT2Model, LlamaConfig, LlamaModel,
                              RobertaConfig, RobertaModel)

    torch.manual_seed(0)
    if kind == "bert":
        cfg = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128, pad_token_id=0)
        return BertModel(cfg)
    if kind == "roberta":
        cfg = RobertaConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=130, pad_token_id=1, bos_token_id=0,
                            eos_token_id=2)
        return RobertaModel(cfg)
    if kind == "llama":
        cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                          bos_token_id=1, eos_token_id=2, pad_token_id=2)
        return LlamaModel(cfg)
    cfg = GPT2Config(vocab_size=vocab_size, n_embd=32, n_layer=2, n_head=2, n_positions=128,
                     bos_token_id=0, eos_token_id=0)
    return GPT2Model(cfg)


def save_tiny(kind: str, folder: Path) -> Path:
    tok = make_tokenizer(kind)
    model = make_model(kind, len(tok))
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder
