"""embedding_matrix reads a model's input embedding rows (the point cloud of Tang et al.) and refuses ambiguity."""

import numpy as np
import pytest
import torch

import lidscope
from lidscope import LIDInputError
from lidscope.extract.models import embedding_matrix


def test_embedding_matrix_of_a_transformers_model_is_its_input_embedding():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    m = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=32))
    E = embedding_matrix(m)
    np.testing.assert_array_equal(E, m.embeddings.word_embeddings.weight.detach().double().numpy())
    r = lidscope.geometry(E, ["persistence", "anisotropy"], ph_n_points=None)
    assert r.params["persistence"]["n_points_used"] == 50


def test_embedding_matrix_of_the_grokking_model_is_its_token_embedding():
    from lidscope.experiments.grokking.model import GrokTransformer, ModelConfig

    m = GrokTransformer(ModelConfig(vocab_size=99, n_classes=97))
    np.testing.assert_array_equal(embedding_matrix(m), m.tok.weight.detach().double().numpy())


def test_embedding_matrix_refuses_a_module_with_two_embeddings_and_none():
    two = torch.nn.ModuleDict({"a": torch.nn.Embedding(5, 3), "b": torch.nn.Embedding(7, 3)})
    with pytest.raises(LIDInputError, match="2 nn.Embedding"):
        embedding_matrix(two)
    with pytest.raises(LIDInputError, match="no input embedding"):
        embedding_matrix(torch.nn.Linear(3, 3))
