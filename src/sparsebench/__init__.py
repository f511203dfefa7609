"""sparsebench: benchmarking and profiling of sparse neural-network training on CPUs."""

__version__ = "0.1.0"


def _load_kernels_override() -> None:
    # SPARSEBENCH_KERNELS_SO: load the extension from this file instead of the installed one (a
    # sanitizer or debug build, tools/sanitize/run_tier.sh), before any module imports it.
    import os

    path = os.environ.get("SPARSEBENCH_KERNELS_SO")
    if not path:
        return
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(f"{__name__}._kernels", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"SPARSEBENCH_KERNELS_SO={path!r} is not a loadable extension module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)


_load_kernels_override()
