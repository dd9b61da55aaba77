"""Record MediaPipe 0.10.21 reference outputs for the face pipeline tests.

Run with a Python environment that has ``mediapipe==0.10.21``, ``av`` and
``pillow`` installed (this tool deliberately does not import ``unflat``)::

    python tools/record_mediapipe_reference.py [--data DIR] [--out PATH]

For every test image (four portraits plus frames 0/25/50/75 of five videos)
it records, each image processed independently (static mode):

* face detection (``mp.solutions.face_detection``, short-range model),
* the 468-point face mesh (``mp.solutions.face_mesh``, refine_landmarks=False),
* the iris stage (eye ROIs, 71-point eye contours, 5-point irises) via a
  hand-flattened version of ``IrisLandmarkLeftAndRightCpu`` (not registered in
  the wheel), plus the 478-point set produced the way
  ``graphs/iris_tracking/iris_tracking_cpu.pbtxt`` does it,
* the 478-point attention-model mesh (``refine_landmarks=True``) for comparison,
* the selfie segmentation mask (general model, ``model_selection=0``).

See ``tests/data/face/README.md`` for the key scheme of the output file.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import av
import cv2
import mediapipe as mp
import numpy as np
from google.protobuf import text_format
from mediapipe.calculators.core import split_vector_calculator_pb2  # noqa: F401
from mediapipe.calculators.image import (
    image_transformation_calculator_pb2,  # noqa: F401
)
from mediapipe.calculators.tensor import (
    image_to_tensor_calculator_pb2,  # noqa: F401
    inference_calculator_pb2,  # noqa: F401
    tensors_to_landmarks_calculator_pb2,  # noqa: F401
)
from mediapipe.calculators.util import (
    detections_to_rects_calculator_pb2,  # noqa: F401
    rect_transformation_calculator_pb2,  # noqa: F401
)
from mediapipe.framework import calculator_pb2
from mediapipe.framework.formats import rect_pb2
from mediapipe.python.solution_base import SolutionBase
from PIL import Image, ImageOps

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "face" / "mediapipe_reference.npz"

PORTRAITS = ["s0", "s9", "s10", "s12"]
VIDEOS = ["talk_1", "talk_2", "lp_d0", "lp_d3", "lp_d6"]
FRAME_INDICES = [0, 25, 50, 75]

MAX_NUM_FACES = 4
MIN_DET_CONF = 0.5
MIN_TRACK_CONF = 0.5  # face-presence threshold inside FaceLandmarkCpu

# Mesh indices of the eye corners fed to IrisLandmarkLandmarksToRoi
# (graphs/iris_tracking/iris_tracking_cpu.pbtxt). "left" is MediaPipe's iris
# graph naming: the eye on the image left (the subject's right eye).
LEFT_EYE_BOUNDARY = (33, 133)
RIGHT_EYE_BOUNDARY = (362, 263)

# graphs/iris_tracking/calculators/update_face_landmarks_calculator.cc:
# kEyeLandmarkIndicesInFaceLandmarks. Entry i receives point i of
# concat(left_eye_contour[71], right_eye_contour[71]).
EYE_CONTOUR_TO_MESH = np.array(
    [
        # left eye: lower contour, upper contour (no corners)
        33, 7, 163, 144, 145, 153, 154, 155, 133,
        246, 161, 160, 159, 158, 157, 173,
        # halo x2 lower, upper
        130, 25, 110, 24, 23, 22, 26, 112, 243,
        247, 30, 29, 27, 28, 56, 190,
        # halo x3 lower, upper
        226, 31, 228, 229, 230, 231, 232, 233, 244,
        113, 225, 224, 223, 222, 221, 189,
        # halo x4 upper (eyebrow inner contour)
        35, 124, 46, 53, 52, 65,
        # halo x5 lower, upper (eyebrow outer contour)
        143, 111, 117, 118, 119, 120, 121, 128, 245,
        156, 70, 63, 105, 66, 107, 55, 193,
        # right eye: lower contour, upper contour (no corners)
        263, 249, 390, 373, 374, 380, 381, 382, 362,
        466, 388, 387, 386, 385, 384, 398,
        # halo x2 lower, upper
        359, 255, 339, 254, 253, 252, 256, 341, 463,
        467, 260, 259, 257, 258, 286, 414,
        # halo x3 lower, upper
        446, 261, 448, 449, 450, 451, 452, 453, 464,
        342, 445, 444, 443, 442, 441, 413,
        # halo x4 upper (eyebrow inner contour)
        265, 353, 276, 283, 282, 295,
        # halo x5 lower, upper (eyebrow outer contour)
        372, 340, 346, 347, 348, 349, 350, 357, 465,
        383, 300, 293, 334, 296, 336, 285, 417,
    ],
    dtype=np.int16,
)  # fmt: skip
assert EYE_CONTOUR_TO_MESH.shape == (142,)

# Flat per-face / per-detection arrays: key -> (dtype, per-row shape).
FIELDS: dict[str, tuple[type, tuple[int, ...]]] = {
    "det_item": (np.int32, ()),
    "det_boxes": (np.float32, (4,)),
    "det_scores": (np.float32, ()),
    "det_keypoints": (np.float32, (6, 2)),
    "graph_det_rois_item": (np.int32, ()),
    "graph_det_rois": (np.float32, (5,)),
    "mesh_item": (np.int32, ()),
    "mesh_landmarks": (np.float32, (468, 3)),
    "mesh_rois": (np.float32, (5,)),
    "eye_rois": (np.float32, (2, 5)),
    "eye_contours": (np.float32, (2, 71, 3)),
    "irises": (np.float32, (2, 5, 3)),
    "mesh478_iris": (np.float32, (478, 3)),
    "eye_contours_legacy": (np.float32, (2, 71, 3)),
    "irises_legacy": (np.float32, (2, 5, 3)),
    "eye_crop_size_legacy": (np.int32, (2, 2)),
    "att_item": (np.int32, ()),
    "att_landmarks": (np.float32, (478, 3)),
}

FACE_FRONT_BINARYPB = "mediapipe/modules/face_landmark/face_landmark_front_cpu.binarypb"

# Appended to FaceLandmarkFrontCpu: per face, the two eye ROIs exactly as
# IrisLandmarkLandmarksToRoi computes them (all calculators registered).
EYE_ROI_NODES = """
node {
  calculator: "ImagePropertiesCalculator"
  input_stream: "IMAGE:image"
  output_stream: "SIZE:eye_loop_input_image_size"
}
node {
  calculator: "BeginLoopNormalizedLandmarkListVectorCalculator"
  input_stream: "ITERABLE:multi_face_landmarks"
  input_stream: "CLONE:eye_loop_input_image_size"
  output_stream: "ITEM:eye_loop_face_landmarks"
  output_stream: "CLONE:eye_loop_image_size"
  output_stream: "BATCH_END:eye_loop_end_timestamp"
}
"""

EYE_ROI_PER_EYE = """
node {
  calculator: "SplitNormalizedLandmarkListCalculator"
  input_stream: "eye_loop_face_landmarks"
  output_stream: "{eye}_eye_boundary_landmarks"
  options {
    [mediapipe.SplitVectorCalculatorOptions.ext] {
      ranges: { begin: {i0} end: {i0p1} }
      ranges: { begin: {i1} end: {i1p1} }
      combine_outputs: true
    }
  }
}
node {
  calculator: "LandmarksToDetectionCalculator"
  input_stream: "NORM_LANDMARKS:{eye}_eye_boundary_landmarks"
  output_stream: "DETECTION:{eye}_eye_detection"
}
node {
  calculator: "DetectionsToRectsCalculator"
  input_stream: "DETECTION:{eye}_eye_detection"
  input_stream: "IMAGE_SIZE:eye_loop_image_size"
  output_stream: "NORM_RECT:{eye}_eye_raw_roi"
  options {
    [mediapipe.DetectionsToRectsCalculatorOptions.ext] {
      rotation_vector_start_keypoint_index: 0
      rotation_vector_end_keypoint_index: 1
      rotation_vector_target_angle_degrees: 0
    }
  }
}
node {
  calculator: "RectTransformationCalculator"
  input_stream: "NORM_RECT:{eye}_eye_raw_roi"
  input_stream: "IMAGE_SIZE:eye_loop_image_size"
  output_stream: "{eye}_eye_roi"
  options {
    [mediapipe.RectTransformationCalculatorOptions.ext] {
      scale_x: 2.3
      scale_y: 2.3
      square_long: true
    }
  }
}
node {
  calculator: "EndLoopNormalizedRectCalculator"
  input_stream: "ITEM:{eye}_eye_roi"
  input_stream: "BATCH_END:eye_loop_end_timestamp"
  output_stream: "ITERABLE:{eye}_eye_rois"
}
"""

# IrisLandmarkCpu with the legacy (unregistered) calculators replaced.
# Main path ("ImageToTensor" front end):
#   ImageCroppingCalculator + ImageTransformationCalculator(FIT 64x64, flip)
#   + TfLiteConverterCalculator(zero_center=false)
#     -> ImageToTensorCalculator(64x64, keep_aspect_ratio, [0,1], replicate);
#        the horizontal flip is done by feeding the mirrored image and the
#        mirrored ROI (see run_iris), since ImageToTensorCalculator cannot flip.
# Legacy path ("legacy" front end, extra arrays *_legacy): the crop of
#   ImageCroppingCalculator is replicated with OpenCV in Python (legacy_crop),
#   then the real ImageTransformationCalculator (FIT 64x64, INTER_AREA when
#   downscaling, flip) runs, and ImageToTensorCalculator on the whole 64x64
#   image (identity warp) stands in for TfLiteConverterCalculator.
# Shared tail:
#   TfLiteInferenceCalculator -> InferenceCalculator (same model, xnnpack)
#   SplitTfLiteTensorVectorCalculator -> SplitTensorVectorCalculator
#   TfLiteTensorsToLandmarksCalculator -> TensorsToLandmarksCalculator
IRIS_FRONT_MAIN = """
input_stream: "IMAGE:crop_image"
input_stream: "CROP_ROI:crop_roi"
input_stream: "ROI:roi"
node {
  calculator: "ImageToTensorCalculator"
  input_stream: "IMAGE:crop_image"
  input_stream: "NORM_RECT:crop_roi"
  output_stream: "TENSORS:image_tensor"
  output_stream: "LETTERBOX_PADDING:eye_letterbox_padding"
  options {
    [mediapipe.ImageToTensorCalculatorOptions.ext] {
      output_tensor_width: 64
      output_tensor_height: 64
      keep_aspect_ratio: true
      output_tensor_float_range { min: 0.0 max: 1.0 }
      border_mode: BORDER_REPLICATE
    }
  }
}
"""

IRIS_FRONT_LEGACY = """
input_stream: "IMAGE:eye_image"
input_stream: "ROI:roi"
node {
  calculator: "ImageTransformationCalculator"
  input_stream: "IMAGE:eye_image"
  output_stream: "IMAGE:transformed_eye_image"
  output_stream: "LETTERBOX_PADDING:eye_letterbox_padding"
  options {
    [mediapipe.ImageTransformationCalculatorOptions.ext] {
      output_width: 64
      output_height: 64
      scale_mode: FIT
      flip_horizontally: FLIP
    }
  }
}
node {
  calculator: "ImageToTensorCalculator"
  input_stream: "IMAGE:transformed_eye_image"
  output_stream: "TENSORS:image_tensor"
  options {
    [mediapipe.ImageToTensorCalculatorOptions.ext] {
      output_tensor_width: 64
      output_tensor_height: 64
      output_tensor_float_range { min: 0.0 max: 1.0 }
      border_mode: BORDER_REPLICATE
    }
  }
}
"""

IRIS_TAIL = """
output_stream: "EYE_CONTOUR_LANDMARKS:projected_eye_landmarks"
output_stream: "IRIS_LANDMARKS:projected_iris_landmarks"
node {
  calculator: "InferenceCalculator"
  input_stream: "TENSORS:image_tensor"
  output_stream: "TENSORS:output_tensors"
  options {
    [mediapipe.InferenceCalculatorOptions.ext] {
      model_path: "mediapipe/modules/iris_landmark/iris_landmark.tflite"
      delegate { xnnpack {} }
    }
  }
}
node {
  calculator: "SplitTensorVectorCalculator"
  input_stream: "output_tensors"
  output_stream: "eye_landmarks_tensor"
  output_stream: "iris_landmarks_tensor"
  options {
    [mediapipe.SplitVectorCalculatorOptions.ext] {
      ranges: { begin: 0 end: 1 }
      ranges: { begin: 1 end: 2 }
    }
  }
}
node {
  calculator: "TensorsToLandmarksCalculator"
  input_stream: "TENSORS:iris_landmarks_tensor"
  output_stream: "NORM_LANDMARKS:iris_landmarks"
  options {
    [mediapipe.TensorsToLandmarksCalculatorOptions.ext] {
      num_landmarks: 5
      input_image_width: 64
      input_image_height: 64
      flip_horizontally: FLIP
    }
  }
}
node {
  calculator: "TensorsToLandmarksCalculator"
  input_stream: "TENSORS:eye_landmarks_tensor"
  output_stream: "NORM_LANDMARKS:eye_landmarks"
  options {
    [mediapipe.TensorsToLandmarksCalculatorOptions.ext] {
      num_landmarks: 71
      input_image_width: 64
      input_image_height: 64
      flip_horizontally: FLIP
    }
  }
}
node {
  calculator: "LandmarkLetterboxRemovalCalculator"
  input_stream: "LANDMARKS:0:iris_landmarks"
  input_stream: "LANDMARKS:1:eye_landmarks"
  input_stream: "LETTERBOX_PADDING:eye_letterbox_padding"
  output_stream: "LANDMARKS:0:padded_iris_landmarks"
  output_stream: "LANDMARKS:1:padded_eye_landmarks"
}
node {
  calculator: "LandmarkProjectionCalculator"
  input_stream: "NORM_LANDMARKS:0:padded_iris_landmarks"
  input_stream: "NORM_LANDMARKS:1:padded_eye_landmarks"
  input_stream: "NORM_RECT:roi"
  output_stream: "NORM_LANDMARKS:0:projected_iris_landmarks"
  output_stream: "NORM_LANDMARKS:1:projected_eye_landmarks"
}
"""

SUBSTITUTIONS = [
    "IrisLandmarkLeftAndRightCpu / IrisLandmarkCpu / IrisLandmarkLandmarksToRoi "
    "subgraphs are not registered in the 0.10.21 wheel: expanded by hand.",
    "FaceLandmarkFrontCpu: the wheel's face_landmark_front_cpu.binarypb (the very "
    "graph mp.solutions.face_mesh runs) with the eye-ROI nodes appended; same "
    "calculator_params and side packets as FaceMesh(static_image_mode=True).",
    "ImageCroppingCalculator(BORDER_REPLICATE) + ImageTransformationCalculator("
    "64x64, FIT, FLIP_HORIZONTALLY=is_right_eye) + TfLiteConverterCalculator("
    "zero_center=false) -> ImageToTensorCalculator(64x64, keep_aspect_ratio=true, "
    "float range [0,1], BORDER_REPLICATE). ImageCroppingCalculator and "
    "TfLiteConverterCalculator are not registered. Resampling differs: legacy "
    "crops at native resolution then cv::resize to 64x64; ImageToTensor does a "
    "single bilinear warp straight to 64x64.",
    "Horizontal flip of the right-eye crop: ImageToTensorCalculator has no flip, "
    "so for the right eye the graph gets the horizontally mirrored full image "
    "(numpy [:, ::-1]) and the mirrored ROI (x_center -> 1 - x_center, "
    "rotation -> -rotation); this samples exactly the mirrored crop. "
    "TensorsToLandmarksCalculator(flip_horizontally=true) un-flips and "
    "LandmarkProjectionCalculator projects with the original (unmirrored) ROI.",
    "TfLiteInferenceCalculator(xnnpack) -> InferenceCalculator(xnnpack delegate, "
    "resolves to InferenceCalculatorCpu), same iris_landmark.tflite.",
    "SplitTfLiteTensorVectorCalculator -> SplitTensorVectorCalculator; "
    "TfLiteTensorsToLandmarksCalculator -> TensorsToLandmarksCalculator "
    "(same num_landmarks, 64x64 input size, flip).",
    "SidePacketToStreamCalculator/ConstantSidePacketCalculator eye flags: "
    "replaced by two graph instances with flip_horizontally fixed in options.",
    "Extra legacy-preprocessing variant (*_legacy arrays): ImageCroppingCalculator "
    "replicated in Python/OpenCV (warpPerspective, INTER_LINEAR, BORDER_REPLICATE, "
    "crop size round(roi.width*W) x round(roi.height*H)), then the registered "
    "ImageTransformationCalculator (64x64 FIT, INTER_AREA when downscaling, "
    "flip_horizontally option for the right eye), then ImageToTensorCalculator on "
    "the full 64x64 image (identity warp, [0,1]) in place of "
    "TfLiteConverterCalculator; same tail.",
    "UpdateFaceLandmarksCalculator and ConcatenateNormalizedLandmarkListCalculator "
    "are not registered: the 478-point iris-tracking set is assembled in numpy "
    "with the index table copied from update_face_landmarks_calculator.cc.",
]


def _load_graph(text: str) -> calculator_pb2.CalculatorGraphConfig:
    return text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())


def _package_root() -> Path:
    # Same root SolutionBase hands to resource_util.set_resource_dir.
    return Path(mp.__file__).resolve().parents[1]


def build_eye_roi_graph() -> calculator_pb2.CalculatorGraphConfig:
    config = calculator_pb2.CalculatorGraphConfig()
    config.ParseFromString((_package_root() / FACE_FRONT_BINARYPB).read_bytes())
    text = EYE_ROI_NODES
    for eye, (i0, i1) in (("left", LEFT_EYE_BOUNDARY), ("right", RIGHT_EYE_BOUNDARY)):
        block = EYE_ROI_PER_EYE
        for key, val in (
            ("{eye}", eye),
            ("{i0p1}", str(i0 + 1)),
            ("{i1p1}", str(i1 + 1)),
            ("{i0}", str(i0)),
            ("{i1}", str(i1)),
        ):
            block = block.replace(key, val)
        text += block
    config.MergeFrom(_load_graph(text))
    config.output_stream.append("LEFT_EYE_ROIS:left_eye_rois")
    config.output_stream.append("RIGHT_EYE_ROIS:right_eye_rois")
    return config


class EyeRoiGraph(SolutionBase):
    """FaceLandmarkFrontCpu (static mode) + per-face eye ROIs."""

    def __init__(self) -> None:
        super().__init__(
            graph_config=build_eye_roi_graph(),
            side_inputs={
                "num_faces": MAX_NUM_FACES,
                "with_attention": False,
                "use_prev_landmarks": False,
            },
            calculator_params={
                "facedetectionshortrangecpu__facedetectionshortrange__facedetection"
                "__TensorsToDetectionsCalculator.min_score_thresh": MIN_DET_CONF,
                "facelandmarkcpu__ThresholdingCalculator.threshold": MIN_TRACK_CONF,
            },
            outputs=[
                "multi_face_landmarks",
                "face_detections",
                "face_rects_from_detections",
                "face_rects_from_landmarks",
                "left_eye_rois",
                "right_eye_rois",
            ],
        )

    def process(self, image: np.ndarray):  # type: ignore[override]
        return super().process(input_data={"image": image})


class IrisGraph(SolutionBase):
    """Flattened IrisLandmarkCpu for one eye (flip fixed per instance)."""

    def __init__(self, flip: bool, legacy: bool = False) -> None:
        front = IRIS_FRONT_LEGACY if legacy else IRIS_FRONT_MAIN
        text = (front + IRIS_TAIL).replace("FLIP", "true" if flip else "false")
        super().__init__(
            graph_config=_load_graph(text),
            outputs=[
                "projected_eye_landmarks",
                "projected_iris_landmarks",
            ],
        )


def load_items(data_root: Path) -> list[tuple[str, np.ndarray, int]]:
    """Return (name, rgb uint8 HxWx3, frame index or -1) for every test image."""
    items = []
    for stem in PORTRAITS:
        path = data_root / "faces" / "portraits" / f"{stem}.jpg"
        with Image.open(path) as im:
            rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"), np.uint8)
        items.append((f"portraits/{stem}.jpg", np.ascontiguousarray(rgb), -1))
    for stem in VIDEOS:
        path = data_root / "faces" / "videos" / f"{stem}.mp4"
        wanted = set(FRAME_INDICES)
        with av.open(str(path)) as container:
            for idx, frame in enumerate(container.decode(video=0)):
                if idx in wanted:
                    rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
                    items.append((f"videos/{stem}.mp4#{idx}", rgb, idx))
                    wanted.discard(idx)
                if not wanted:
                    break
        if wanted:
            raise RuntimeError(f"{path}: frames {sorted(wanted)} not decoded")
    return items


def _lmk_px(landmarks, w: int, h: int) -> np.ndarray:
    """NormalizedLandmarkList -> (N, 3) float32 pixels (x*W, y*H, z*W)."""
    arr = np.array([(p.x, p.y, p.z) for p in landmarks.landmark], np.float64)
    return (arr * np.array([w, h, w])).astype(np.float32)


def _rect(r) -> list[float]:
    return [r.x_center, r.y_center, r.width, r.height, r.rotation]


def _mirror_rect(r) -> rect_pb2.NormalizedRect:
    m = rect_pb2.NormalizedRect()
    m.CopyFrom(r)
    m.x_center = 1.0 - r.x_center
    m.rotation = -r.rotation
    return m


def run_detection(det, image):
    h, w = image.shape[:2]
    boxes, scores, kps = [], [], []
    res = det.process(image)
    for d in res.detections or []:
        bb = d.location_data.relative_bounding_box
        boxes.append(
            [
                bb.xmin * w,
                bb.ymin * h,
                (bb.xmin + bb.width) * w,
                (bb.ymin + bb.height) * h,
            ]
        )
        scores.append(d.score[0])
        kps.append([[k.x * w, k.y * h] for k in d.location_data.relative_keypoints])
    return (
        np.array(boxes, np.float32).reshape(-1, 4),
        np.array(scores, np.float32).reshape(-1),
        np.array(kps, np.float32).reshape(-1, 6, 2),
    )


def run_iris(iris_graphs, image, image_flipped, left_roi, right_roi):
    """Returns eye contours (2,71,3) and irises (2,5,3), normalized coords."""
    h, w = image.shape[:2]
    contours, irises = [], []
    for flip, roi in ((False, left_roi), (True, right_roi)):
        if flip:
            inputs = {"crop_image": image_flipped, "crop_roi": _mirror_rect(roi)}
        else:
            inputs = {"crop_image": image, "crop_roi": roi}
        inputs["roi"] = roi
        # square_long makes the ROI square in pixels, so ImageToTensor's
        # letterbox padding (not readable from Python) is zero.
        aspect = roi.width * w / (roi.height * h)
        if abs(aspect - 1.0) > 1e-4:
            print(f"  note: eye ROI aspect {aspect}", file=sys.stderr)
        res = iris_graphs[flip].process(inputs)
        contours.append(_lmk_px(res.projected_eye_landmarks, w, h))
        irises.append(_lmk_px(res.projected_iris_landmarks, w, h))
    return np.stack(contours), np.stack(irises)


def legacy_crop(image: np.ndarray, roi) -> np.ndarray:
    """ImageCroppingCalculator::RenderCpu (0.10.21) for a NORM_RECT input,
    BORDER_REPLICATE, no output_max_width/height."""
    h, w = image.shape[:2]
    f32 = np.float32
    crop_w = int(np.floor(f32(roi.width) * f32(w) + f32(0.5)))
    crop_h = int(np.floor(f32(roi.height) * f32(h) + f32(0.5)))
    cx = float(f32(roi.x_center) * f32(w))
    cy = float(f32(roi.y_center) * f32(h))
    rotation = float(f32(roi.rotation))
    if rotation == 0.0:
        cx = float(np.round(cx)) if crop_w % 2 == 0 else np.floor(cx + 1.0) - 0.5
        cy = float(np.round(cy)) if crop_h % 2 == 0 else np.floor(cy + 1.0) - 0.5
    angle = float(f32(rotation) * f32(180.0) / np.pi)
    src = cv2.boxPoints(((cx, cy), (float(crop_w), float(crop_h)), angle))
    dst = np.array([[0, crop_h], [0, 0], [crop_w, 0], [crop_w, crop_h]], np.float32)
    proj = cv2.getPerspectiveTransform(src.astype(np.float32), dst)
    shift_src = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]], np.float64)
    shift_dst = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]], np.float64)
    crop = cv2.warpPerspective(
        image,
        shift_dst @ proj @ shift_src,
        (crop_w, crop_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.ascontiguousarray(crop)


def run_iris_legacy(legacy_graphs, image, left_roi, right_roi):
    """Legacy-preprocessing variant: returns eye contours, irises, crop sizes."""
    h, w = image.shape[:2]
    contours, irises, sizes = [], [], []
    for flip, roi in ((False, left_roi), (True, right_roi)):
        crop = legacy_crop(image, roi)
        sizes.append(crop.shape[:2])
        res = legacy_graphs[flip].process({"eye_image": crop, "roi": roi})
        contours.append(_lmk_px(res.projected_eye_landmarks, w, h))
        irises.append(_lmk_px(res.projected_iris_landmarks, w, h))
    return np.stack(contours), np.stack(irises), np.array(sizes, np.int32)


def assemble_478(mesh: np.ndarray, contours: np.ndarray, irises: np.ndarray):
    """iris_tracking_cpu.pbtxt: UpdateFaceLandmarks + concat(left, right iris)."""
    out = mesh.copy()
    out[EYE_CONTOUR_TO_MESH] = contours.reshape(142, 3)
    return np.concatenate([out, irises[0], irises[1]], axis=0)


def quarter(mask: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    small = cv2.resize(mask.astype(np.float32), (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    return small.astype(np.float16)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data root")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .npz")
    args = ap.parse_args(argv)

    items = load_items(args.data)
    sols = mp.solutions
    det = sols.face_detection.FaceDetection(
        model_selection=0, min_detection_confidence=MIN_DET_CONF
    )
    mesh_sol = sols.face_mesh.FaceMesh(
        static_image_mode=True,
        max_num_faces=MAX_NUM_FACES,
        refine_landmarks=False,
        min_detection_confidence=MIN_DET_CONF,
        min_tracking_confidence=MIN_TRACK_CONF,
    )
    mesh_att = sols.face_mesh.FaceMesh(
        static_image_mode=True,
        max_num_faces=MAX_NUM_FACES,
        refine_landmarks=True,
        min_detection_confidence=MIN_DET_CONF,
        min_tracking_confidence=MIN_TRACK_CONF,
    )
    seg = sols.selfie_segmentation.SelfieSegmentation(model_selection=0)
    eye_graph = EyeRoiGraph()
    iris_graphs = {False: IrisGraph(flip=False), True: IrisGraph(flip=True)}
    legacy_graphs = {
        False: IrisGraph(flip=False, legacy=True),
        True: IrisGraph(flip=True, legacy=True),
    }

    out: dict[str, np.ndarray] = {}
    acc: dict[str, list] = {key: [] for key in FIELDS}
    max_mesh_diff = 0.0
    report = []
    for i, (name, image, _) in enumerate(items):
        h, w = image.shape[:2]
        # 1. detection
        boxes, scores, kps = run_detection(det, image)
        acc["det_item"].append(np.full(len(boxes), i, np.int32))
        acc["det_boxes"].append(boxes)
        acc["det_scores"].append(scores)
        acc["det_keypoints"].append(kps)

        # 2. face mesh (solution) and the flattened graph
        sol_faces = [_lmk_px(f, w, h) for f in mesh_sol.process(image).multi_face_landmarks or []]
        res = eye_graph.process(image)
        graph_faces = [_lmk_px(f, w, h) for f in res.multi_face_landmarks or []]
        if len(graph_faces) != len(sol_faces):
            raise RuntimeError(f"{name}: face count solution/graph differ")
        for a, b in zip(sol_faces, graph_faces, strict=True):
            max_mesh_diff = max(max_mesh_diff, float(np.abs(a - b).max()))
        det_rois = [_rect(r) for r in res.face_rects_from_detections or []]
        acc["graph_det_rois_item"].append(np.full(len(det_rois), i, np.int32))
        acc["graph_det_rois"].append(np.array(det_rois, np.float32).reshape(-1, 5))
        lm_rois = list(res.face_rects_from_landmarks or [])
        left_rois = list(res.left_eye_rois or [])
        right_rois = list(res.right_eye_rois or [])
        assert len(lm_rois) == len(left_rois) == len(right_rois) == len(sol_faces)

        # 3. iris per face
        flipped = np.ascontiguousarray(image[:, ::-1])
        for f, mesh in enumerate(sol_faces):
            contours, irises = run_iris(iris_graphs, image, flipped, left_rois[f], right_rois[f])
            acc["mesh_item"].append(np.array([i], np.int32))
            acc["mesh_landmarks"].append(mesh[None])
            acc["mesh_rois"].append(np.array([_rect(lm_rois[f])], np.float32))
            acc["eye_rois"].append(
                np.array([[_rect(left_rois[f]), _rect(right_rois[f])]], np.float32)
            )
            acc["eye_contours"].append(contours[None])
            acc["irises"].append(irises[None])
            acc["mesh478_iris"].append(assemble_478(mesh, contours, irises)[None])
            lc, li, sizes = run_iris_legacy(legacy_graphs, image, left_rois[f], right_rois[f])
            acc["eye_contours_legacy"].append(lc[None])
            acc["irises_legacy"].append(li[None])
            acc["eye_crop_size_legacy"].append(sizes[None])

        # attention model (refine_landmarks=True) for comparison
        att = [_lmk_px(f, w, h) for f in mesh_att.process(image).multi_face_landmarks or []]
        acc["att_item"].append(np.full(len(att), i, np.int32))
        acc["att_landmarks"].append(np.array(att, np.float32).reshape(-1, 478, 3))

        # 4. selfie segmentation
        mask = seg.process(image).segmentation_mask
        assert mask.shape == (h, w), mask.shape
        out[f"seg/{i}/mask_bits"] = np.packbits(mask > 0.5)
        out[f"seg/{i}/mask_shape"] = np.array(mask.shape, np.int32)
        out[f"seg/{i}/quarter"] = quarter(mask)

        line = (
            f"{name:24s} {w}x{h} det={len(boxes)} mesh={len(sol_faces)} "
            f"att={len(att)} det_rois={len(det_rois)} "
            f"fg={float((mask > 0.5).mean()):.3f}"
        )
        report.append(line)
        print(line)

    for key, parts in acc.items():
        dtype, shape = FIELDS[key]
        out[key] = np.concatenate(parts).astype(dtype) if parts else np.zeros((0, *shape), dtype)

    print(f"max |solution mesh - flattened-graph mesh| = {max_mesh_diff:g} px")
    if max_mesh_diff != 0.0:
        raise RuntimeError("flattened graph does not reproduce mp.solutions.face_mesh")

    out["names"] = np.array([n for n, _, _ in items])
    out["frame_index"] = np.array([fi for _, _, fi in items], np.int32)
    out["image_hw"] = np.array([im.shape[:2] for _, im, _ in items], np.int32)
    out["eye_contour_to_mesh"] = EYE_CONTOUR_TO_MESH
    meta = {
        "mediapipe_version": mp.__version__,
        "numpy_version": np.__version__,
        "av_version": av.__version__,
        "frame_indices": FRAME_INDICES,
        "coords": "pixels: x*W, y*H, z*W (z relative, same scale as x)",
        "face_detection": {"model_selection": 0, "min_detection_confidence": MIN_DET_CONF},
        "face_mesh": {
            "static_image_mode": True,
            "max_num_faces": MAX_NUM_FACES,
            "refine_landmarks": False,
            "min_detection_confidence": MIN_DET_CONF,
            "min_tracking_confidence": MIN_TRACK_CONF,
        },
        "face_mesh_attention": "same options with refine_landmarks=True",
        "selfie_segmentation": {
            "model_selection": 0,
            "mask_bits": "np.packbits(mask > 0.5) of the flattened HxW mask",
            "quarter": "cv2.resize(mask, (W//4, H//4), INTER_AREA) as float16",
        },
        "iris": {
            "left_eye_boundary_mesh_indices": list(LEFT_EYE_BOUNDARY),
            "right_eye_boundary_mesh_indices": list(RIGHT_EYE_BOUNDARY),
            "eye_order": "index 0 = MediaPipe 'left' (mesh 33/133, image-left eye = "
            "subject's right eye, crop not flipped); index 1 = 'right' (mesh "
            "362/263, image-right eye = subject's left eye, crop flipped)",
            "eye_roi": "IrisLandmarkLandmarksToRoi: DetectionsToRects(rotation from "
            "boundary point 0 to 1, target 0 deg) then RectTransformation(scale 2.3, "
            "square_long); NormalizedRect (x_center, y_center, width, height, "
            "rotation rad)",
            "mesh478_iris": "468 updated by eye_contour_to_mesh, then left iris "
            "(468..472), right iris (473..477); iris z is the iris model's own z "
            "(the attention model instead averages eye-contour z)",
            "legacy": "eye_contours_legacy / irises_legacy: same ROIs, legacy "
            "crop+resize preprocessing; eye_crop_size_legacy = (h, w) of the "
            "native-resolution crop before the 64x64 resize",
            "max_abs_mesh_diff_solution_vs_graph_px": max_mesh_diff,
        },
        "substitutions": SUBSTITUTIONS,
        "report": report,
    }
    out["meta"] = np.array(json.dumps(meta, indent=1))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, **out)
    args.out.write_bytes(buf.getvalue())
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    graphs = [det, mesh_sol, mesh_att, seg, eye_graph]
    for g in graphs + list(iris_graphs.values()) + list(legacy_graphs.values()):
        g.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
