"""Study records: what a study notes from its data does not make it another study."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlab.errors import ArchlabError
from archlab.store import Store
from archlab.store.study import check_study, load_study, note_study, save_study

DEFINITION = {"question": "cardinality", "arms": [], "alpha": 0.05}


def test_a_noted_val_size_is_kept_and_never_makes_another_study(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", create=True) as store:
        save_study(store, "q", DEFINITION)  # as a store written before val_size was noted
        note_study(store, "q", val_size=144)
        record = load_study(store, "q")
        assert record is not None and record.definition == {**DEFINITION, "val_size": 144}
        # The rerun's definition (without the note) is the same study ...
        assert check_study(store, "q", DEFINITION) is not None
        assert save_study(store, "q", DEFINITION).definition["val_size"] == 144
        # ... and a changed question still is not.
        with pytest.raises(ArchlabError, match=r"different study named 'q' \(differs in alpha\)"):
            check_study(store, "q", {**DEFINITION, "alpha": 0.1})
        with pytest.raises(ArchlabError, match="a study notes only val_size"):
            note_study(store, "q", paired=True)
        note_study(store, "missing", val_size=10)  # no such study: nothing written
        assert load_study(store, "missing") is None
