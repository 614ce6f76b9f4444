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


def test_moved_names_keep_working():
    from lidscope.measure import write_result
    from lidscope.outputs import write_json, write_measure
    from lidscope.results import write_json as old_write_json

    assert old_write_json is write_json
    assert write_result.__doc__.startswith("Deprecated alias of `lidscope.outputs.write_measure`")
    assert write_measure.__name__ == "write_measure"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError):
        lidscope.no_such_thing  # noqa: B018
