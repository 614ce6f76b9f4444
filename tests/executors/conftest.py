import pytest


@pytest.fixture(scope="module")
def local_ray():
    """One private local Ray instance (never another user's cluster), shared by the Ray test modules."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (CI installs it): pip install 'lidscope[ray]'")
    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, object_store_memory=300 * 2**20, include_dashboard=False,
                 logging_level="ERROR")
    return ray
