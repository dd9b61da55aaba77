"""The plain data types that flow between unflat's stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily: `import unflat` and `unflat --help` stay quick
    import torch


@dataclass
class Photo:
    """An RGB photo as ``uint8 [H,W,3]``, upright (EXIF orientation applied).

    ``focal_px`` is the focal length in pixels of this image when the file's EXIF told us,
    else None; ``source`` is where it came from, for messages and sidecars.
    """

    rgb: np.ndarray
    focal_px: float | None = None
    source: Path | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    def known_focal(self, user_px: float | None = None) -> tuple[float | None, str | None]:
        """The focal length to trust before any estimate, and its source.

        The one precedence every job follows: the user's value, else the photo's EXIF, else
        ``(None, None)`` and the caller estimates it (a depth file's record, Depth Pro).
        """
        if user_px is not None:
            return float(user_px), "user"
        if self.focal_px is not None:
            return float(self.focal_px), "exif"
        return None, None


@dataclass
class DepthMap:
    """Metric depth in metres ``float32 [H,W]`` with the focal length (pixels) it was scaled with.

    ``focal_source`` says where the focal length came from: ``"exif"``, ``"model"`` or ``"user"``;
    ``precision`` is the path the model ran in (``fp32``, ``int8``...: ``auto`` resolved).
    """

    depth: np.ndarray
    focal_px: float
    focal_source: str = "model"
    model: str | None = None
    seconds: float | None = None
    precision: str | None = None

    @property
    def height(self) -> int:
        return int(self.depth.shape[0])

    @property
    def width(self) -> int:
        return int(self.depth.shape[1])

    @property
    def fov_deg(self) -> float:
        """Horizontal field of view implied by the focal length."""
        return float(np.degrees(2.0 * np.arctan(0.5 * self.width / self.focal_px)))

    def intrinsics(self) -> np.ndarray:
        """Pinhole intrinsics ``K`` (3x3) with the principal point at the image centre."""
        return np.array(
            [
                [self.focal_px, 0.0, self.width / 2.0],
                [0.0, self.focal_px, self.height / 2.0],
                [0.0, 0.0, 1.0],
            ],
            dtype=np.float64,
        )


@dataclass
class Gaussians:
    """A 3D Gaussian scene: ``N`` anisotropic Gaussians as torch tensors on one device.

    ``means [N,3]`` in metres (OpenCV camera frame of the source photo: x right, y down,
    z forward), ``scales [N,3]`` standard deviations along the Gaussian's axes, ``quats [N,4]``
    rotations as (w, x, y, z), ``colors [N,3]`` linear RGB, ``opacities [N]`` in [0, 1].
    """

    means: torch.Tensor
    scales: torch.Tensor
    quats: torch.Tensor
    colors: torch.Tensor
    opacities: torch.Tensor

    def __len__(self) -> int:
        return int(self.means.shape[0])

    def to(self, device: torch.device | str) -> Gaussians:
        """The same scene with every tensor on ``device``."""
        return Gaussians(
            means=self.means.to(device),
            scales=self.scales.to(device),
            quats=self.quats.to(device),
            colors=self.colors.to(device),
            opacities=self.opacities.to(device),
        )

    def validate(self, *, values: bool = True) -> None:
        """Raise ``InputError`` (naming the field) for a scene no stage can use.

        Every field must be a float torch tensor, ``means``/``scales``/``colors`` ``[N,3]``,
        ``quats`` ``[N,4]`` and ``opacities`` ``[N]``, all on one device; with ``values`` (a
        scan of every value) none may be NaN or infinite. Callers that report bad values their
        own way pass ``values=False`` and use :meth:`nonfinite`.
        """
        import torch

        from unflat.errors import InputError

        widths = {"means": 3, "scales": 3, "quats": 4, "colors": 3}
        tensors = {name: getattr(self, name) for name in (*widths, "opacities")}
        for name, tensor in tensors.items():
            if not isinstance(tensor, torch.Tensor):
                raise InputError(
                    f"Gaussians.{name} is a {type(tensor).__name__}, not a torch tensor",
                    hint="build Gaussians from torch tensors",
                )
        count = self.means.shape[0] if self.means.ndim == 2 else -1
        for name, width in widths.items():
            shape = tuple(tensors[name].shape)
            if shape != (count, width):
                raise InputError(
                    f"Gaussians.{name} has shape {shape}, expected ({max(count, 0)}, {width})",
                    hint="all Gaussian fields need the same count N: means/scales/colors [N,3], "
                    "quats [N,4], opacities [N]",
                )
        if tuple(self.opacities.shape) != (count,):
            raise InputError(
                f"Gaussians.opacities has shape {tuple(self.opacities.shape)}, expected ({count},)",
                hint="opacities are one value per Gaussian, shape [N]",
            )
        device = self.means.device
        for name, tensor in tensors.items():
            if tensor.device != device:
                raise InputError(
                    f"Gaussians.{name} is on {tensor.device} but means are on {device}",
                    hint="move the whole scene to one device",
                )
            if not tensor.is_floating_point():
                raise InputError(f"Gaussians.{name} is {tensor.dtype}", hint="use float tensors")
            bad = int((~torch.isfinite(tensor)).sum()) if values and tensor.numel() else 0
            if bad:
                raise InputError(
                    f"Gaussians.{name} has {bad} non-finite value(s) (NaN or inf)",
                    hint="remove or fix those Gaussians before rendering",
                )

    def nonfinite(self) -> torch.Tensor:
        """``bool [N]``: which Gaussians have a NaN or infinite value in any field."""
        import torch

        count = len(self)
        bad = torch.zeros(count, dtype=torch.bool, device=self.means.device)
        if count:
            for name in ("means", "scales", "quats", "colors", "opacities"):
                values = getattr(self, name).reshape(count, -1)
                bad |= ~torch.isfinite(values).all(dim=1)
        return bad


@dataclass
class Camera:
    """A pinhole camera with OpenCV axes (x right, y down, z forward).

    ``K`` is the 3x3 intrinsics in pixels, ``world_to_camera`` the 4x4 extrinsics, and the
    image is ``width`` x ``height`` pixels.
    """

    K: torch.Tensor
    world_to_camera: torch.Tensor
    width: int
    height: int

    @classmethod
    def pinhole(
        cls,
        width: int,
        height: int,
        focal_px: float,
        cx: float | None = None,
        cy: float | None = None,
        world_to_camera: torch.Tensor | None = None,
    ) -> Camera:
        """A camera with square pixels of focal length ``focal_px`` and no skew.

        The principal point ``(cx, cy)`` defaults to the image centre ``(width / 2, height / 2)``
        (pixel ``(x, y)`` is centred at ``(x + 0.5, y + 0.5)``, the renderer's convention), and
        the pose to the identity. ``K`` is float32; ``world_to_camera`` is used as given.
        """
        import torch

        f = float(focal_px)
        cx = width / 2.0 if cx is None else float(cx)
        cy = height / 2.0 if cy is None else float(cy)
        K = torch.tensor([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]], dtype=torch.float32)
        pose = torch.eye(4) if world_to_camera is None else world_to_camera
        return cls(K=K, world_to_camera=pose, width=width, height=height)


@dataclass
class Face:
    """One face found in an image; all coordinates in pixels of that image.

    - ``box``: the detector's box (x0, y0, x1, y1);
    - ``score``: the detector's confidence in [0, 1];
    - ``keypoints``: the detector's six points ``[6,2]`` (right eye, left eye, nose tip, mouth,
      right ear tragion, left ear tragion; "right" is the subject's right, image left);
    - ``landmarks``: ``float32 [478,3]``, MediaPipe's 468-point face mesh with the eye contours
      refined, then the subject's right iris (468-472: centre, then 4 points on the rim) and left
      iris (473-477). x and y are pixels; z is depth relative to the face centre, in the same
      pixel units as x (smaller is nearer the camera).
    """

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray
    landmarks: np.ndarray

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def interocular(self) -> float:
        """Distance between the two iris centres, in pixels."""
        from unflat.face_mesh import interocular

        return float(interocular(self.landmarks))


@dataclass
class FaceTrack:
    """One face followed through a video: what a renderer needs to re-enact it.

    Arrays run over frames ``T``. Landmarks are pixels of the video (z in the same units); frames
    where no face was found have ``detected[t] == False`` and values bridged from their
    neighbours. ``rotation``, ``translation`` and ``scale`` place the neutral reference face
    (:func:`unflat.face.pose.head_pose`): ``landmarks ~ scale * reference @ rotation.T +
    translation``. ``canonical`` is the landmarks with that pose removed (reference units) and
    ``expression = canonical - reference``. ``mouth_open``, ``eye_ratio`` (subject's right, left)
    and ``gaze`` come from :mod:`unflat.face_mesh`.
    """

    landmarks: np.ndarray  # [T,478,3]
    detected: np.ndarray  # [T] bool
    times: np.ndarray  # [T] seconds from the first frame
    fps: float
    size: tuple[int, int]  # (width, height) of the frames
    rotation: np.ndarray  # [T,3,3]
    translation: np.ndarray  # [T,3]
    scale: np.ndarray  # [T]
    canonical: np.ndarray  # [T,478,3]
    expression: np.ndarray  # [T,478,3]
    mouth_open: np.ndarray  # [T]
    eye_ratio: np.ndarray  # [T,2]
    gaze: np.ndarray  # [T,2,2]
    boxes: np.ndarray  # [T,4] x0, y0, x1, y1 of the landmarks
    neutral: int = 0

    def __len__(self) -> int:
        return int(self.landmarks.shape[0])

    @property
    def euler_degrees(self) -> np.ndarray:
        """``[T,3]`` pitch, yaw, roll in degrees."""
        from unflat.geometry.rotations import rotation_to_euler

        return np.array([rotation_to_euler(r) for r in self.rotation], dtype=np.float32)

    def save(self, path: str | Path) -> Path:
        """Write the track as a compressed ``.npz`` (atomically)."""
        from unflat.io.atomic import atomic_write

        arrays = {k: np.asarray(v) for k, v in self.__dict__.items()}
        with atomic_write(Path(path)) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> FaceTrack:
        with np.load(Path(path)) as data:
            values = {k: data[k] for k in data.files}
        values["fps"] = float(values["fps"])
        values["size"] = tuple(int(v) for v in values["size"])
        values["neutral"] = int(values["neutral"])
        return cls(**values)


@dataclass
class Audio:
    """Mono sound: ``samples`` float32 ``[N]`` in [-1, 1] at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / float(self.sample_rate)
