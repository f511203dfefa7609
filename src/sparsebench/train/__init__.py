"""Whole-network training runs (`sparsebench train`): a zoo model (sparsebench.models) converted
through a method's training hooks (Method.layer_refuses / convert_layer, its first / last layer
policy), N training steps timed against the dense model interleaved in one process, a per-layer,
per-stage breakdown from torch.profiler ranges, peak memory of a step in a fresh process, the
density each layer reached, and data-parallel runs (DistributedDataParallel over gloo) under
torchrun or sparsebench.runners.distributed.

  convert.py    the generic conversion walk (which layers, which stay dense and why)
  run.py        data, the step, interleaved timing, DDP; TrainConfig, train()
  breakdown.py  profiler ranges -> per-layer, per-stage times
  figures.py    the breakdown as a table and a stacked bar plot (torch-free)
  memory.py     peak RSS of one step in a fresh child process
  cli.py        the `train` command
Nothing is imported here, so reports can use figures.py without torch.
"""
