"""Extract MediaPipe's canonical face geometry into ``src/unflat/assets/face/canonical_face.npz``.

Maintenance tool, not part of the package. The canonical face (468 vertices in centimetres, 898
triangles, texture coordinates, and the 33 weighted landmarks MediaPipe fits head pose on) ships in
no PyPI wheel; it is packed inside the npm package ``@mediapipe/face_mesh`` (Apache-2.0) as
``geometry_pipeline_metadata_landmarks.binarypb``. This script fetches that package with
``npm pack`` (or takes ``--tgz PATH``), checks its sha256, finds the file through the loader
script's offset table, and decodes the protobuf by hand (the schema is three nested messages).

Usage::

    python tools/extract_face_geometry.py             # npm pack, extract, write the asset
    python tools/extract_face_geometry.py --tgz mediapipe-face_mesh-0.4.1657299874.tgz
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

PACKAGE = "@mediapipe/face_mesh@0.4.1657299874"
TGZ_SHA256 = "c08a7e0742a326285da666cf81d77c8b6f3a181a2ee948cadaf166008e0d3bc7"
METADATA = "geometry_pipeline_metadata_landmarks.binarypb"
OUT = Path(__file__).resolve().parents[1] / "src" / "unflat" / "assets" / "face"
# Vertex layout VERTEX_PT: x, y, z, u, v.
_FLOATS_PER_VERTEX = 5


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of a protobuf message; varint, 32-bit and bytes only."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 5:
            value = struct.unpack_from("<f", buf, i)[0]
            i += 4
        elif wire == 2:
            size, i = _varint(buf, i)
            value = buf[i : i + size]
            i += size
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
        yield number, wire, value


def _packed_varints(buf: bytes) -> list[int]:
    out, i = [], 0
    while i < len(buf):
        value, i = _varint(buf, i)
        out.append(value)
    return out


def decode_metadata(blob: bytes) -> dict[str, np.ndarray]:
    """``GeometryPipelineMetadata``: 1 = Mesh3d, 2 = repeated WeightedLandmarkRef."""
    floats: list[float] = []
    indices: list[int] = []
    basis: list[tuple[int, float]] = []
    for number, _wire, value in _fields(blob):
        if number == 1:  # Mesh3d: 3 = vertex_buffer (float), 4 = index_buffer (uint32)
            for sub, sub_wire, sub_value in _fields(value):
                if sub == 3:
                    if sub_wire == 5:
                        floats.append(sub_value)
                    else:
                        floats.extend(struct.unpack(f"<{len(sub_value) // 4}f", sub_value))
                elif sub == 4:
                    indices.extend([sub_value] if sub_wire == 0 else _packed_varints(sub_value))
        elif number == 2:  # WeightedLandmarkRef: 1 = landmark_id, 2 = weight
            ref = {sub: sub_value for sub, _, sub_value in _fields(value)}
            basis.append((int(ref.get(1, 0)), float(ref.get(2, 0.0))))
    vertices = np.asarray(floats, dtype=np.float32).reshape(-1, _FLOATS_PER_VERTEX)
    return {
        "vertices": vertices[:, :3],
        "uvs": vertices[:, 3:],
        "triangles": np.asarray(indices, dtype=np.int32).reshape(-1, 3),
        "procrustes_ids": np.array([b[0] for b in basis], dtype=np.int32),
        "procrustes_weights": np.array([b[1] for b in basis], dtype=np.float32),
    }


def read_metadata(tgz: Path) -> bytes:
    digest = hashlib.sha256(tgz.read_bytes()).hexdigest()
    if digest != TGZ_SHA256:
        raise SystemExit(f"{tgz}: sha256 {digest} is not the expected {TGZ_SHA256}")
    with tarfile.open(tgz) as tar:
        loader = tar.extractfile("package/face_mesh_solution_packed_assets_loader.js").read()
        data = tar.extractfile("package/face_mesh_solution_packed_assets.data").read()
    match = re.search(
        rb'"filename":\s*"[^"]*' + re.escape(METADATA.encode()) + rb'",\s*"start":\s*(\d+),'
        rb'\s*"end":\s*(\d+)',
        loader,
    )
    if match is None:
        raise SystemExit(f"{METADATA} is not listed in the package's asset loader")
    return data[int(match.group(1)) : int(match.group(2))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tgz", type=Path, help="an already downloaded npm tarball")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tgz = args.tgz
        if tgz is None:
            subprocess.run(["npm", "pack", PACKAGE], cwd=tmp, check=True)
            tgz = next(Path(tmp).glob("*.tgz"))
        geometry = decode_metadata(read_metadata(tgz))
    assert geometry["vertices"].shape == (468, 3), geometry["vertices"].shape
    assert geometry["triangles"].max() < 468
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **geometry)
    (OUT / "canonical_face.npz").write_bytes(buffer.getvalue())
    print(
        f"{len(geometry['vertices'])} vertices, {len(geometry['triangles'])} triangles, "
        f"{len(geometry['procrustes_ids'])} weighted landmarks -> {OUT / 'canonical_face.npz'}"
    )


if __name__ == "__main__":
    main()
