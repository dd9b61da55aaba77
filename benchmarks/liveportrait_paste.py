"""Per-frame CPU time of the LivePortrait engine's paste: once-per-source layout against
everything measured again each frame.

The engine pastes each network picture through a :class:`~unflat.face.liveportrait.paste.
PasteLayout` and maps the flow through a ``SourceGrid``, both made once per portrait;
``paste_back`` + ``source_map`` make them afresh on every call, as every frame did before.
One picture of the tiny fixture network (64x64 input, 128x128 picture) is pasted into the
bundled Mona Lisa (512x640) again and again. CPU seconds of this process (``process_time``),
so other jobs on a busy machine disturb it less than wall time; median of 7 runs of 10.

    python benchmarks/liveportrait_paste.py --weights ../shared/fixtures/liveportrait_tiny_a
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


def _milliseconds(work: Callable[[], object], repeat: int = 10, runs: int = 7) -> float:
    work()
    times = []
    for _ in range(runs):
        start = time.process_time()
        for _ in range(repeat):
            work()
        times.append((time.process_time() - start) / repeat * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="config.json + model.safetensors")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from unflat.face.liveportrait.engine import LivePortraitEngine, _flow
    from unflat.face.liveportrait.paste import paste_back, source_map
    from unflat.face.motion import Motion
    from unflat.io.images import read_photo
    from unflat.pipelines.animate import bundled_portrait
    from unflat.pipelines.engines import input_size
    from unflat.weights import load_model

    folder = Path(args.weights)
    model = load_model("liveportrait", weights=folder / "model.safetensors")
    portrait = read_photo(bundled_portrait()).rgb
    engine = LivePortraitEngine(model, [portrait], input_size=input_size(str(folder)))
    source = engine.source
    with torch.inference_mode():
        warped = model.warp(source.features, source.keypoints,
                            engine.motion_keypoints(Motion.still(1, 25.0), 0))  # fmt: skip
        image = model.generate(warped.warped_feature)[0].clamp(0, 1) * 255 + 0.5
        picture = np.ascontiguousarray(image.byte().permute(1, 2, 0).numpy())
        offset = (_flow(warped.deformation) - source.rest_flow).numpy()

    def afresh() -> object:
        pasted = paste_back(picture, source.crop, portrait)
        return source_map(source.crop, offset, pasted.region)

    print(f"portrait {portrait.shape[1]}x{portrait.shape[0]}, picture {picture.shape[0]}")
    print(f"layout made every frame: {_milliseconds(afresh):.1f} ms/frame")
    print(f"layout made once:        {_milliseconds(lambda: engine._paste(picture, offset)):.1f} "
          "ms/frame")  # fmt: skip


if __name__ == "__main__":
    main()
