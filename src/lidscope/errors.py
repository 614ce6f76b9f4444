"""Errors raised for input the estimators cannot use; every message names the fix."""


class LIDInputError(ValueError):
    """A point cloud or parameter that lidscope cannot estimate on, with the reason and the fix."""
