"""Options that several commands share, defined once (same flag, same help everywhere)."""

from __future__ import annotations

from typing import Annotated

import typer

Inputs = Annotated[
    list[str], typer.Argument(help="Photos, folders (searched recursively) or globs.")
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Redo or replace existing outputs.")]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")]
Precision = Annotated[
    str,
    typer.Option(
        "--precision",
        help="auto (chosen by the processor and said in one line; docs/precision.md), fp32 "
        "(reference), bf16, fp16 (GPU), int8 or int8-fp32 (CPU).",
    ),
]
FocalPx = Annotated[
    float | None,
    typer.Option("--focal-px", help="Focal length in pixels (overrides EXIF and estimates)."),
]
Loudness = Annotated[float, typer.Option("--loudness", help="Target loudness, LUFS (EBU R128).")]
Replace = Annotated[bool, typer.Option("--replace", help="Drop the video's own sound.")]
AnimationEngine = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Face animator: classical (landmark warp, no weights), liveportrait (the "
        "LivePortrait network: `unflat models fetch liveportrait`), fewshot (a model of "
        "`unflat train talking-head`: --checkpoint), or auto: fewshot with --checkpoint, "
        "liveportrait when its weights are installed, else classical.",
    ),
]
