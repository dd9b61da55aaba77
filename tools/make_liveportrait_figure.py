"""The figure of docs/liveportrait.md: the LivePortrait engine's crop and paste-back, end to end.

The bundled Mona Lisa is animated by the ``idle+talk`` presets through the engine that
``unflat animate --engine liveportrait`` runs, with the tiny fixture weights (random: the
network's picture is noise, which is expected). Panels: the portrait with the crop square drawn;
the second frame with the square outlined; the pixels that differ from the portrait (white);
the network's 64x64 input and its 128x128 output, enlarged. It prints the shapes and checks that
every pixel outside the pasted square equals the portrait.

    python tools/make_liveportrait_figure.py docs/images/liveportrait_tiny_paste.jpg \\
        --weights ../shared/fixtures/liveportrait_tiny_a
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--weights", type=Path, required=True)
    args = parser.parse_args()

    from unflat.face.liveportrait.engine import LivePortraitEngine
    from unflat.face.presets import generate
    from unflat.io.images import read_photo, save_rgb
    from unflat.pipelines.animate import bundled_portrait
    from unflat.pipelines.engines import input_size
    from unflat.weights import load_model

    model = load_model("liveportrait", weights=args.weights / "model.safetensors")
    portrait = read_photo(bundled_portrait()).rgb
    engine = LivePortraitEngine(model, [portrait], input_size=input_size(str(args.weights)))
    frames = list(engine.frames(generate("idle+talk", seconds=0.2, fps=10.0, seed=0)))
    frame, warp = frames[-1]
    crop = engine.source.crop
    changed = np.any(frame != portrait, axis=-1)
    x0, y0, x1, y1 = warp.region
    outside = np.ones(changed.shape, bool)
    outside[y0:y1, x0:x1] = False
    print(f"{len(frames)} frames of {frame.shape}, {frame.dtype}; crop centre "
          f"{np.round(crop.centre, 1)}, side {crop.side:.1f} px, turned "
          f"{crop.angle_degrees:.2f} deg; pasted box {warp.region}")  # fmt: skip
    print(f"pixels changed outside the box: {int(changed[outside].sum())}; "
          f"changed inside: {int(changed.sum())} of {changed.size}")  # fmt: skip
    square = [np.round(crop.corners() - 0.5).astype(np.int32)]
    drawn = portrait.copy()
    cv2.polylines(drawn, square, True, (255, 0, 0), 3)
    outlined = frame.copy()
    cv2.polylines(outlined, square, True, (255, 0, 0), 1)
    mask = np.repeat(changed[..., None].astype(np.uint8) * 255, 3, axis=-1)
    side = np.zeros((portrait.shape[0], 256, 3), np.uint8)
    network_in = crop.network_input(portrait, engine.input_size)
    source = engine.source
    with __import__("torch").inference_mode():
        picture = model.decode(source.features, source.keypoints, source.keypoints)[0]
    picture = (picture.clamp(0, 1) * 255).byte().permute(1, 2, 0).numpy()
    side[:256] = cv2.resize(network_in, (256, 256), interpolation=cv2.INTER_NEAREST)
    side[-256:] = cv2.resize(picture, (256, 256), interpolation=cv2.INTER_NEAREST)
    sheet = np.concatenate([drawn, outlined, mask, side], axis=1)
    save_rgb(args.output, cv2.resize(sheet, (sheet.shape[1] // 2, sheet.shape[0] // 2),
                                     interpolation=cv2.INTER_AREA))  # fmt: skip
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
