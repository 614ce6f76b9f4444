"""The public API: the numerical core imports light, the model-facing names load on first use."""

import subprocess
import sys

import pytest

import lidscope


def test_import_lidscope_does_not_load_transformers_or_torch():
    code = "import sys, lidscope; print('transformers' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("name", ["sweep", "LIDCallback", "LIDMonitor"])
def test_model_facing_names_resolve(name):
    assert callable(getattr(lidscope, name))


def test_measure_lives_in_its_module():
    from lidscope.measure import compare, measure

    assert callable(measure) and callable(compare)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError):
        lidscope.no_such_thing  # noqa: B018
