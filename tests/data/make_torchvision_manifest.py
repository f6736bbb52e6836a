"""Write torchvision_state_dicts.json: state_dict keys and shapes of torchvision's ResNets.

torchvision cannot be imported beside archlab's CPU torch build, so this runs once in a separate
environment and its output is committed as test data:

    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tvenv/bin/python tests/data/make_torchvision_manifest.py
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torchvision

MODELS = ("resnet50", "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d")


def main() -> None:
    manifest: dict[str, object] = {"torchvision": torchvision.__version__, "models": {}}
    for name in MODELS:
        with torch.device("meta"):
            model = getattr(torchvision.models, name)(weights=None)
        manifest["models"][name] = [  # type: ignore[index]
            [key, list(value.shape)] for key, value in model.state_dict().items()
        ]
    out = Path(__file__).with_name("torchvision_state_dicts.json")
    # One key per line keeps the committed file readable and its diffs small.
    lines = [f'{{"torchvision": {json.dumps(manifest["torchvision"])}, "models": {{']
    models = manifest["models"]
    for i, (name, rows) in enumerate(models.items()):  # type: ignore[attr-defined]
        body = ",\n".join(json.dumps(row) for row in rows)
        lines.append(f"{json.dumps(name)}: [\n{body}\n]" + ("," if i < len(models) - 1 else ""))
    lines.append("}}")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
