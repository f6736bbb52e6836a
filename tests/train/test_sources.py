"""Data sources are one registry: a source registered in a test loads and trains the normal way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from archlab.errors import ArchlabError
from archlab.space import make_spec, with_overrides
from archlab.train import sources
from archlab.train._sources import Source
from archlab.train.config import TrainConfig
from archlab.train.data import load_dataset
from archlab.train.loop import train_run
from archlab.train.sources import DataSource, data_source, register_source, source_forms
from archlab.train.tasks import dataset_for

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _stripes(path: str) -> Source:
    """Two classes told apart by where a bright stripe lies: rows 0-3 or rows 4-7 of 8x8."""
    n = 60 if not path else int(path)
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    x = torch.randint(0, 40, (n, 3, 8, 8), generator=g, dtype=torch.uint8)
    for i, label in enumerate(y.tolist()):
        x[i, :, 4 * label : 4 * label + 4] += 200
    return Source("stripes", False, x[: n - 20], y[: n - 20], x[n - 20 :], y[n - 20 :], 2)


@pytest.fixture
def stripes() -> Iterator[DataSource]:
    """Register the stripes source; the registry is restored in place afterwards."""
    saved = dict(sources.SOURCES)
    entry = DataSource("stripes", _stripes, False, "the last 20 images are the test split", None)
    register_source(entry)
    yield entry
    sources.SOURCES.clear()
    sources.SOURCES.update(saved)


def test_a_registered_source_loads_through_load_dataset(stripes) -> None:
    assert source_forms().endswith(", stripes")
    data = load_dataset("stripes", val_fraction=0.25, seed=3)
    assert data.name == "stripes" and data.num_classes == 2 and not data.flip
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (30, 10, 20)
    assert data.image_size == 8 and data.x_train.dtype == torch.uint8


def test_a_registered_source_trains_through_the_normal_path(stripes, tmp_path: Path) -> None:
    config = TrainConfig(dataset="stripes", epochs=1, batch_size=8, augment="none")
    data = dataset_for(config)  # what every task does (archlab.train.tasks)
    spec = make_spec("cifar", 11, 2, 2, width_multiplier=0.125)
    spec = with_overrides(spec, num_classes=data.num_classes, input_size=data.image_size)
    epochs: list[dict] = []
    outcome = train_run(spec, data, config, seed=0, device=torch.device("cpu"),
                        run_dir=tmp_path / "run", on_epoch=epochs.append)  # fmt: skip
    assert outcome.status == "finished" and len(epochs) == 1
    assert 0 <= epochs[0]["val_error"] <= 1


def test_a_source_with_a_path_gets_it(stripes, monkeypatch) -> None:
    entry = DataSource("stripes", _stripes, True, "", True)  # the entry says flips keep labels
    monkeypatch.setitem(sources.SOURCES, "stripes", entry)
    assert "stripes:PATH" in source_forms()
    data = load_dataset("stripes:100")
    assert len(data.y_test) == 20 and data.flip  # the loader said no; the registry decides
    with pytest.raises(
        ArchlabError, match="dataset source 'stripes' needs a path: write stripes:PATH"
    ):
        load_dataset("stripes")


@pytest.mark.parametrize("name", ["imagenet", "digits:x", "cifar10", "cifar10:", "npz"])
def test_unknown_or_misnamed_sources_list_the_forms(name: str) -> None:
    with pytest.raises(ArchlabError, match="valid forms: digits, cifar10:PATH, cifar100:PATH"):
        data_source(name)


def test_the_registry_is_restored_and_refuses_a_taken_prefix() -> None:
    assert "stripes" not in sources.SOURCES
    with pytest.raises(ArchlabError, match="already registered"):
        register_source(sources.SOURCES["digits"])
    entry, path = data_source("npz:/data/x.npz")
    assert (entry.prefix, path, entry.form) == ("npz", "/data/x.npz", "npz:PATH")
