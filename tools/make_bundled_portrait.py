"""Make the bundled public-domain portrait ``unflat/assets/portraits/mona_lisa.jpg``.

unflat ships one portrait so that a newcomer can animate a face offline: Leonardo da Vinci's
Mona Lisa (c. 1503-1519, Louvre), which is in the public domain. The reproduction comes from a
package registry, so that it is fetched by an ordinary client and pinned by checksum: the sdist
of pyfreeform 0.6.3 on PyPI carries ``wiki/sample_images/MonaLisa.jpg`` (960x1431), which appears
to be the 960-pixel-wide thumbnail of Wikimedia Commons'
"Mona_Lisa,_by_Leonardo_da_Vinci,_from_C2RMF_retouched.jpg" (tagged PD-Art there: a faithful
photographic reproduction of a 2-D public-domain work has no copyright of its own in the US,
Bridgeman v. Corel, 1999).

The script downloads the sdist (or takes ``--sdist PATH``), checks its sha256 and the image's,
crops head and shoulders with a fixed box, resizes to 512x640 (Lanczos), saves a JPEG of quality
90 and writes the ``NOTICE`` beside it. Then, unless ``--no-check``, it runs unflat's face
detector and person segmentation on the result and prints what they find.

    python tools/make_bundled_portrait.py [--sdist pyfreeform-0.6.3.tar.gz] [--no-check]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from PIL import Image

PACKAGE = "pyfreeform"
VERSION = "0.6.3"
SDIST_NAME = f"{PACKAGE}-{VERSION}.tar.gz"
SDIST_SHA256 = "9879b72e43c7b188b3a6c8497b965c6476a3e9da8ca2ed08827821e694ac167d"
MEMBER = f"{PACKAGE}-{VERSION}/wiki/sample_images/MonaLisa.jpg"
MEMBER_SHA256 = "5f223c31ba0a477eb7cbe5e5f959d822cbfc46081b19b96498cbd5601d9ac81d"
SOURCE_SIZE = (960, 1431)

# Head and shoulders, (left, top, right, bottom) in source pixels, aspect 4:5. The face detector
# puts her face box at about x 353-586, y 275-509 in the source; this box is 584 wide (the face
# about 40% of it), centred on the face horizontally (x 470), from just above the hair to below
# the neckline, so the face centre falls at about 40% of the height.
CROP_BOX = (178, 100, 762, 830)
OUTPUT_SIZE = (512, 640)
JPEG_QUALITY = 90
MAX_BYTES = 200_000

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "src" / "unflat" / "assets" / "portraits"
IMAGE_NAME = "mona_lisa.jpg"

NOTICE = f"""\
mona_lisa.jpg
=============

The painting
  Leonardo da Vinci, "Mona Lisa" (La Gioconda), oil on poplar panel, c. 1503-1519,
  Musee du Louvre, Paris (inv. 779). The painting is in the public domain worldwide
  (its author died in 1519).

The reproduction
  Taken from the source distribution of pyfreeform {VERSION} on PyPI:
    {SDIST_NAME}  sha256 {SDIST_SHA256}
    member {MEMBER}
    ({SOURCE_SIZE[0]}x{SOURCE_SIZE[1]} JPEG, sha256 {MEMBER_SHA256})
  It appears to be the {SOURCE_SIZE[0]}-pixel-wide thumbnail of Wikimedia Commons'
  "File:Mona_Lisa,_by_Leonardo_da_Vinci,_from_C2RMF_retouched.jpg" (a scan by the Centre de
  recherche et de restauration des musees de France, retouched), which Commons marks PD-Art:
  a faithful photographic reproduction of a two-dimensional public-domain work of art is itself
  in the public domain in the United States (Bridgeman Art Library v. Corel Corp., 1999).
  pyfreeform's own licence (GPL-3.0) covers its code and writing; it does not and cannot
  extend to this public-domain image, and no pyfreeform code is included in unflat.

What was done to it (tools/make_bundled_portrait.py)
  - cropped to head and shoulders: box (left, top, right, bottom) = {CROP_BOX} in source pixels;
  - resized to {OUTPUT_SIZE[0]}x{OUTPUT_SIZE[1]} with Lanczos resampling;
  - saved as baseline JPEG, quality {JPEG_QUALITY}, 4:2:0 chroma, no metadata.
  These are mechanical changes with no creative authorship.

No copyright is claimed in mona_lisa.jpg. It is distributed with unflat as a public-domain
work and may be used for any purpose without restriction.
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_sdist(directory: Path) -> Path:
    """Fetch the sdist from PyPI with pip (no wheels, no dependencies)."""
    command = [sys.executable, "-m", "pip", "download", f"{PACKAGE}=={VERSION}"]
    command += ["--no-deps", "--no-binary", ":all:", "-d", str(directory)]
    subprocess.run(command, check=True)
    path = directory / SDIST_NAME
    if not path.is_file():
        raise SystemExit(f"pip did not leave {SDIST_NAME} in {directory}")
    return path


def read_source(sdist: Path) -> bytes:
    """The checked bytes of the Mona Lisa JPEG inside ``sdist``."""
    digest = sha256(sdist.read_bytes())
    if digest != SDIST_SHA256:
        raise SystemExit(f"{sdist}: sha256 {digest}, expected {SDIST_SHA256}")
    with tarfile.open(sdist, "r:gz") as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            raise SystemExit(f"{sdist} has no file {MEMBER}")
        data = member.read()
    digest = sha256(data)
    if digest != MEMBER_SHA256:
        raise SystemExit(f"{MEMBER}: sha256 {digest}, expected {MEMBER_SHA256}")
    return data


def make_portrait(source: bytes) -> bytes:
    """Crop, resize and encode the portrait; returns the JPEG bytes."""
    with Image.open(io.BytesIO(source)) as image:
        if image.size != SOURCE_SIZE:
            raise SystemExit(f"the source is {image.size}, expected {SOURCE_SIZE}")
        portrait = image.convert("RGB").crop(CROP_BOX).resize(OUTPUT_SIZE, Image.LANCZOS)
    buffer = io.BytesIO()
    portrait.save(buffer, "JPEG", quality=JPEG_QUALITY, subsampling="4:2:0", optimize=True)
    data = buffer.getvalue()
    if len(data) > MAX_BYTES:
        raise SystemExit(f"the portrait is {len(data)} bytes, over the {MAX_BYTES} budget")
    return data


def check(path: Path) -> None:
    """Run unflat's face detector and person segmentation on the portrait and print the results."""
    import numpy as np

    from unflat.face import detect, segment_person

    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    height, width = rgb.shape[:2]
    faces = detect(rgb)
    print(f"faces found: {len(faces)}")
    if len(faces) != 1:
        raise SystemExit("expected exactly one face")
    face = faces[0]
    x0, y0, x1, y1 = face.box
    print(f"face box: ({x0:.1f}, {y0:.1f}, {x1:.1f}, {y1:.1f}), score {face.score:.3f}")
    print(
        f"face width {face.width / width:.1%} of the image; centre at "
        f"x {(x0 + x1) / 2 / width:.1%}, y {(y0 + y1) / 2 / height:.1%}; "
        f"inter-ocular {face.interocular:.1f} px"
    )
    person = segment_person(rgb) > 0.5
    ix0, iy0 = max(int(x0), 0), max(int(y0), 0)
    ix1, iy1 = min(int(np.ceil(x1)), width), min(int(np.ceil(y1)), height)
    print(
        f"person mask (p > 0.5): {person.mean():.1%} of the image, "
        f"{person[iy0:iy1, ix0:ix1].mean():.1%} of the face box"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help=f"a local {SDIST_NAME} (else pip downloads it)")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where to write the files")
    parser.add_argument("--no-check", action="store_true", help="skip the face/person check")
    args = parser.parse_args(argv)

    if args.sdist is not None:
        source = read_source(args.sdist)
    else:
        with tempfile.TemporaryDirectory() as directory:
            source = read_source(download_sdist(Path(directory)))

    portrait = make_portrait(source)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    image_path = args.out_dir / IMAGE_NAME
    image_path.write_bytes(portrait)
    (args.out_dir / "NOTICE").write_text(NOTICE, encoding="utf-8")
    print(f"wrote {image_path} ({OUTPUT_SIZE[0]}x{OUTPUT_SIZE[1]}, {len(portrait)} bytes)")
    print(f"sha256 {sha256(portrait)}")
    if not args.no_check:
        check(image_path)


if __name__ == "__main__":
    main()
