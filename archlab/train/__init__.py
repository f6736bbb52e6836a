"""Train: data, the epoch loop, checkpoints, executors, the driver of a set of runs, progress."""
