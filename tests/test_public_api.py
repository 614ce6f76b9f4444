"""The public API: the numerical core imports light, the model-facing names load on first use."""

import subprocess
import sys

import pytest

import lidscope


def test_import_lidscope_does_not_load_transformers_or_torch():
    code = "import sys, lidscope; print('transformers' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("name, module", [("sweep", "lidscope.training.sweep"),
                                          ("LIDCallback", "lidscope.training.callback"),
                                          ("LIDMonitor", "lidscope.training.monitor")])
def test_model_facing_names_are_the_objects_of_their_modules(name, module):
    import importlib

    assert getattr(lidscope, name) is getattr(importlib.import_module(module), name)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError):
        lidscope.no_such_thing  # noqa: B018
