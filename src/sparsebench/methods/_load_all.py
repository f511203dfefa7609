"""Importing this module registers every method's ops (one import per method module)."""

from . import actgrad  # noqa: F401
from . import unstructured  # noqa: F401
from . import block  # noqa: F401
from . import pattern  # noqa: F401
from . import filter  # noqa: F401
from . import update  # noqa: F401
