"""The depth and scene stages of ``unflat run``."""

from __future__ import annotations

from typing import Any

import numpy as np

from unflat.io.depth_files import save_depth_npy, save_depth_png16
from unflat.pipelines.run_context import RunContext
from unflat.pipelines.run_record import run_stage
from unflat.types import DepthMap


def depth_stage(context: RunContext) -> None:
    """Stage 1: the photo's metric depth -> ``NAME.depth.npy`` and ``NAME.depth_mm.png``."""
    s = context.settings
    focal = None if s.focal_px is None else s.focal_px * context.scale
    key = {
        "photo": context.inputs.get("photo"),
        "depth": context.inputs.get("depth"),
        "units": s.depth_units,
        "focal_px": s.focal_px,
        "max_size": s.max_size,
        "depth_pro": context.depth_source.has_depth_pro,
    }

    def work(info: dict[str, Any]) -> None:
        context.report("depth", 0, 1)
        context.depth_source.focal_px = focal
        result = context.depth_source(context.photo, s.depth, context.progress)
        save_depth_npy(context.files.depth, result.depth)
        save_depth_png16(context.files.depth_png, result.depth)
        context.depth_map = result
        info.update(
            files=[context.files.depth.name, context.files.depth_png.name],
            focal_px=result.focal_px,
            focal_source=result.focal_source,
            model=result.model or ("file" if s.depth else "depth-pro"),
            weights_sha256=context.depth_source.weights_sha256,
            size=[context.photo.width, context.photo.height],
        )
        context.report("depth", 1, 1)

    done = run_stage(context.record, "depth", key, work)
    if context.depth_map is None:
        depth = np.load(context.files.depth, allow_pickle=False)
        info = done.info
        context.depth_map = DepthMap(
            depth, float(info["focal_px"]), str(info["focal_source"]), model=info.get("model")
        )


def scene_stage(context: RunContext) -> None:
    """Stage 2: the photo's Gaussian scene -> ``NAME.ply`` and its camera sidecar."""
    from unflat.io.gaussians import save_gaussians
    from unflat.splat.outputs import write_sidecar
    from unflat.splat.rgbd import RGBD_EPS2D, from_rgbd

    key = {"depth": context.record.data["stages"]["depth"]["key"]}

    def work(info: dict[str, Any]) -> None:
        assert context.depth_map is not None
        context.report("scene", 0, 1)
        camera = context.camera
        gaussians = from_rgbd(context.photo.rgb, context.depth_map.depth, camera.K.double().numpy())
        save_gaussians(context.files.scene, gaussians)
        write_sidecar(
            context.files.scene_sidecar,
            {
                "method": "rgbd",
                "gaussians": len(gaussians),
                "width": camera.width,
                "height": camera.height,
                "focal_px": context.depth_map.focal_px,
                "intrinsics": camera.K.tolist(),
                "render_eps2d": RGBD_EPS2D,
                "source": context.inputs.get("photo", {}).get("path"),
            },
        )
        info.update(
            files=[context.files.scene.name, context.files.scene_sidecar.name],
            gaussians=len(gaussians),
        )
        context.report("scene", 1, 1)

    run_stage(context.record, "scene", key, work)
