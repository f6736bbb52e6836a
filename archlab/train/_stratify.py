"""The stratified hold-out (plan key ``data.stratify``; docs/data.md, "Stratified splits").

A plain hold-out takes the first ``n_val`` images of a seeded shuffle, so on imbalanced data the
class mix of the validation set varies from seed to seed. A stratified one holds out the same
``n_val`` images in total, shared out among the classes in proportion to their size, and takes
each class's share from the front of the same seeded shuffle: the generator and its draw are the
plain split's, only which images are kept back differs. Torch only, no data loading here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import torch


def class_quotas(
    counts: Sequence[int], n_val: int, *, keep_one: bool, tie_order: Sequence[int]
) -> list[int]:
    """Each class's share of ``n_val`` held-out images, by the largest-remainder rule.

    Class c (of ``counts[c]`` images, N in all) is owed ``n_val * counts[c] / N`` images,
    computed exactly: each class gets that share rounded down, then the classes with the
    largest remainders get one more each until the shares add up to ``n_val`` (the rule of
    scikit-learn's ``train_test_split(stratify=y)``). So every class's share is its exact
    share rounded down or up, and the total is the plain draw's. Equal remainders go first to
    the class earlier in ``tie_order`` (every class once). With ``keep_one`` no share exceeds
    ``counts[c] - 1`` (every class keeps a training image); what that cap takes from a class
    goes, by the same rule, to the classes owed most. The caps must leave room for ``n_val``.
    """
    total = sum(counts)
    exact = [Fraction(n_val * c, total) for c in counts]
    caps = [max(c - 1, 0) if keep_one else c for c in counts]
    assert sum(caps) >= n_val, "the caller refuses a split that cannot keep its classes"
    quota = [min(math.floor(q), cap) for q, cap in zip(exact, caps, strict=True)]
    rank = {cls: r for r, cls in enumerate(tie_order)}
    # At most one pass over the classes: each share's floor is within its cap (n_val < N).
    for _ in range(n_val - sum(quota)):
        room = [c for c in range(len(counts)) if quota[c] < caps[c]]
        owed = max(room, key=lambda c: (exact[c] - quota[c], -rank[c]))
        quota[owed] += 1
    return quota


def stratified_hold_out(
    order: torch.Tensor, labels: torch.Tensor, n_val: int, *, keep_one: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation and training indices (sorted) of a stratified split of ``order``.

    ``labels`` are the labels of ``order``'s examples, in ``order``'s order (a seeded shuffle).
    Each class's quota (:func:`class_quotas`) is taken from the front of that shuffle; classes
    tied on their remainder are ranked by where their first image falls in it, so the tie is
    broken by the same seeded draw, never always for the lower label.
    """
    seq = labels.tolist()
    counts = torch.bincount(labels).tolist()
    first: dict[int, None] = dict.fromkeys(seq)  # classes by first appearance, in order
    absent = [c for c in range(len(counts)) if c not in first]
    quota = class_quotas(counts, n_val, keep_one=keep_one, tie_order=[*first, *absent])
    held = []
    for label in seq:
        take = quota[label] > 0
        quota[label] -= take
        held.append(take)
    mask = torch.tensor(held, dtype=torch.bool)
    return order[mask].sort().values, order[~mask].sort().values
