"""sparsebench: benchmarking and profiling of sparse neural-network training on CPUs."""

__version__ = "0.1.0"
