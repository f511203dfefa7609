"""Where implementations run: in this process (ours and the torch baselines: inprocess), in a
crash-isolated child process (peers such as SparseProp: child), or as ranks of a
torch.distributed group (what multi-process methods such as TernGrad need: distributed)."""
