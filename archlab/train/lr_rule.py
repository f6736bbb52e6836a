"""The linear scaling rule for the learning rate, torch-free so reports can explain stored lrs.

Goyal et al., "Accurate, Large Minibatch SGD", 2017, Sec. 2.1: when the batch size is multiplied
by k, multiply the lr by k. Anchored at the paper's CIFAR recipe, lr 0.1 at batch 128 (Sec. 5.3);
its ImageNet recipe, lr 0.1 at batch 256 (Sec. 4), is the same rule at half the base.
"""

from __future__ import annotations

import math

BASE_LR = 0.1
REFERENCE_BATCH = 128


def linear_scaled_lr(batch_size: int, base_lr: float = BASE_LR) -> float:
    """The peak lr the linear scaling rule gives a batch size: base_lr x batch / 128."""
    return base_lr * batch_size / REFERENCE_BATCH


def lr_derivation(lr: float, batch_size: int) -> str:
    """How a stored lr relates to the rule: its formula when it follows it, else the rule's lr."""
    rule = linear_scaled_lr(batch_size)
    if math.isclose(lr, rule, rel_tol=1e-9):
        return f"{BASE_LR:g} x {batch_size}/{REFERENCE_BATCH}, the linear scaling rule"
    return f"set by hand; the linear scaling rule gives {rule:g} at batch {batch_size}"
