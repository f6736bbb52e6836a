"""Upper bounds on the options that size work or memory, checked before any work starts.

An absurd value (``--epochs 99999999999999999999``, ``--threads 100000``, ``--sample 10**8``)
is refused in one line naming the field and the bound, instead of overflowing SQLite's 64-bit
integers, hanging, or failing deep inside torch. Each bound is far above any sensible use: the
paper's longest recipe is 300 CIFAR epochs (Sec. 5.3) and its largest batch 256 (Sec. 4).
"""

from __future__ import annotations

from archlab.errors import ArchlabError

MAX_EPOCHS = 10_000
MAX_TIME_BUDGET_S = 366 * 24 * 3600  # a year of training seconds
MAX_BATCH_SIZE = 65_536
MAX_LIMIT = 1_000_000_000  # images; above any data set archlab loads into memory
MAX_THREADS = 1024  # a fixed cap, not os.cpu_count(): Ray workers run on other machines
MAX_WORKERS = 1024
MAX_SEED_COUNT = 1000  # seeds per candidate (or per study arm)
MAX_SAMPLES = 100_000  # specs drawn by one `space --sample`


# Upper bounds, checked before any work: each is far beyond any published network, so only an
# absurd value (a typo, an extra zero) meets one, and it is refused at once instead of hanging
# a count or a solver, or exhausting memory in a build. (limit, why), stated in the error.
MAX_DEPTH = 1001
MAX_DEPTH_WHY = "ResNet-1001 is the deepest in He et al. 2016"
MAX_BLOCKS = (MAX_DEPTH - 2) // 3  # 333 bottleneck blocks make depth 1001
MAX_WIDTH = 1 << 20
MAX_WIDTH_WHY = "the widest layer of the paper's networks has 2,048 channels"
MAX_WIDTH_MULTIPLIER = 64
MAX_INPUT_SIZE = 4096
MAX_INPUT_SIZE_WHY = "ImageNet models take 224 to 600 pixels"
MAX_NUM_CLASSES = 100_000
MAX_NUM_CLASSES_WHY = "ImageNet-21k has 21,841 classes"


def check_at_most(field: str, value: int | float | None, bound: int) -> None:
    """Refuse ``value`` above ``bound``, naming the field and the bound (None passes)."""
    if value is not None and not isinstance(value, bool) and value > bound:
        raise ArchlabError(f"{field} must be at most {bound:,}, got {value:,}")
