"""Videos in and out (PyAV): the one place unflat encodes or decodes a video file.

Frames are always ``uint8 [H,W,3]`` RGB numpy arrays. Decisions, in one place:

- **Formats** follow the suffix (:data:`VIDEO_SUFFIXES`): ``.mp4`` is H.264 (libx264, yuv420p,
  ``+faststart`` so a browser starts playing before the whole file arrived), ``.webm`` is VP9
  (yuv420p, constant-quality mode), ``.gif`` is a looping GIF with one 256-colour palette
  computed by FFmpeg's ``palettegen`` over all frames and applied with ordered (Bayer) dithering,
  which measured closer to the source than Pillow's quantisers at a similar size and, unlike
  error diffusion, does not make static areas shimmer.
- **Colour**: mp4 and webm are converted with the BT.709 matrix (limited range) and tagged so,
  which is what browsers assume for untagged HD video anyway.
- **Odd sizes**: H.264 in yuv420p needs even sides, so an mp4 gets the last column and/or row
  repeated (padding by 1 px, never cropping: no content is lost and a duplicated edge line is
  invisible). VP9 and GIF keep the exact size. :attr:`VideoWriter.encoded_size` says what was
  stored.
- **GIF timing**: delays are stored in 1/100 s; FFmpeg rounds them so that the total stays
  exact (30 fps gives 3, 3, 4, ... centiseconds). Browsers slow delays under 2/100 s down to
  1/10 s, so GIFs above 50 fps are refused. GIF frames are held in memory until the writer
  closes (the palette needs all of them): keep GIFs short and small.
- **Audio** (``audio=``): an :class:`~unflat.types.Audio`, or the first audio stream of another
  media file decoded from its start, encoded as AAC (mp4) or Opus (webm) by
  :class:`unflat.io.audio_encoder.AudioEncoder` and cut at the video's length; a shorter
  soundtrack just ends early. GIF has no audio: ``audio`` is ignored for it
  (:attr:`VideoWriter.audio_ignored` is then True), so one call can write every format.
- **Atomic**: everything is written to a hidden temporary file beside the target and renamed
  when the writer closes without error; an exception (or a writer closed with no frame) leaves
  nothing behind.
- **Reading** decodes any format FFmpeg knows. ``fps`` is the average frame rate (frames over
  stream duration when the container knows both); ``variable_frame_rate`` is True when it
  differs by more than 1 % from the nominal rate, and :attr:`VideoReader.timestamps` has every
  decoded frame's exact time for callers that must stay in sync. A rotation tag (phone videos)
  is applied, so frames are upright like :func:`unflat.io.images.read_photo`'s photos.
  Opening and decoding go through :mod:`unflat.io.media`: a damaged file, a stream FFmpeg has
  no decoder for, or a header (or stream) beyond the frame, seconds and pixel limits of
  :mod:`unflat.io.limits` is an ``InputError``, checked from the header before decoding and
  again while frames stream. :func:`check_moving` refuses a still image or a one-frame video
  where motion is needed.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Literal

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation

from unflat.errors import ConfigError, InputError, OutputError
from unflat.io.atomic import atomic_write
from unflat.io.audio_encoder import AUDIO_CODECS, AudioEncoder, Sound, check_sound
from unflat.io.limits import check_limit
from unflat.io.media import (
    Budget,
    declared_seconds,
    first_stream,
    guarded,
    open_input,
    settled,
)

VIDEO_SUFFIXES = (".mp4", ".webm", ".gif")
Quality = Literal["high", "medium", "low"]
#: Constant-quality settings per quality level: x264 CRF 18 is the usual "visually lossless"
#: point and 23 its default; VP9's CRF scale is different (0-63, 31 recommended for 1080p).
_X264_CRF = {"high": 18, "medium": 23, "low": 28}
_VP9_CRF = {"high": 24, "medium": 32, "low": 40}
#: GIF delays below 2/100 s are played at 1/10 s by browsers, i.e. far too slowly.
MAX_GIF_FPS = 50.0
#: Nominal and average frame rates further apart than this (relative) mean variable frame rate.
_VFR_TOLERANCE = 0.01
_FORMATS_HINT = "use a file name ending in .mp4 (H.264), .webm (VP9) or .gif"


def _as_rate(fps: float | Fraction) -> Fraction:
    """A frame rate as a fraction; NTSC rates like 29.97002997 come back as 30000/1001."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, Fraction)):
        raise ConfigError(f"frame rate {fps!r} is not a number", hint="give fps as e.g. 30")
    if not math.isfinite(float(fps)) or fps <= 0:
        raise ConfigError(f"frame rate {fps} is not positive", hint="give fps as e.g. 30")
    return Fraction(fps).limit_denominator(1001)


def _check_frame(frame: np.ndarray) -> np.ndarray:
    array = np.asarray(frame)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"video frames must be uint8 [H,W,3], got {array.dtype} {array.shape}")
    return np.ascontiguousarray(array)


class VideoWriter:
    """Write frames to ``.mp4``/``.webm``/``.gif``, atomically; see the module docstring.

    Use as a context manager (``with VideoWriter(path, fps=30) as writer: writer.write(rgb)``)
    or call :meth:`close` yourself (:meth:`abort` discards the file). ``width``/``height``
    default to the first frame's size; every frame must have that size. ``quality`` picks the
    constant-quality level of mp4/webm. ``audio`` is the soundtrack: an
    :class:`~unflat.types.Audio` or a media file whose sound is copied (see the module
    docstring). ``overwrite=False`` refuses an existing target.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float | Fraction,
        *,
        width: int | None = None,
        height: int | None = None,
        quality: Quality = "high",
        audio: Sound | None = None,
        overwrite: bool = True,
    ) -> None:
        self.path = Path(path).expanduser()
        self.suffix = self.path.suffix.lower()
        if self.suffix not in VIDEO_SUFFIXES:
            raise OutputError(f"cannot write a video as {self.path.name}", hint=_FORMATS_HINT)
        if quality not in _X264_CRF:
            raise ConfigError(f"unknown video quality {quality!r}", hint="use high, medium or low")
        self.rate = _as_rate(fps)
        if self.suffix == ".gif" and self.rate > MAX_GIF_FPS:
            raise ConfigError(
                f"a GIF cannot play {float(self.rate):g} frames per second",
                hint=f"use at most {MAX_GIF_FPS:g} fps for .gif, or write .mp4/.webm",
            )
        self.quality = quality
        self.frames_written = 0
        self.audio_ignored = audio is not None and self.suffix == ".gif"
        self._sound = None if self.audio_ignored else audio
        self._size = (width, height) if width is not None and height is not None else None
        if (width is None) != (height is None):
            raise ValueError("give both width and height, or neither")
        if self._sound is not None:
            check_sound(self._sound)  # fail before any encoding
        if not overwrite and self.path.exists():
            raise OutputError(f"{self.path} already exists", hint="pass --overwrite to replace it")
        self._overwrite = overwrite
        # The temporary file is created with the first frame, so a writer that never gets one
        # leaves nothing behind.
        self._stack = contextlib.ExitStack()
        self._temporary: Path | None = None
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._audio: AudioEncoder | None = None
        self._gif_graph: av.filter.Graph | None = None
        self._closed = False
        if self._size is not None:
            self._open(*self._size)

    @property
    def encoded_size(self) -> tuple[int, int] | None:
        """``(width, height)`` stored in the file: the frame size, padded to even for mp4."""
        if self._size is None:
            return None
        width, height = self._size
        if self.suffix == ".mp4":
            return width + width % 2, height + height % 2
        return width, height

    def _open(self, width: int, height: int) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"video size {width}x{height} is empty")
        self._size = (width, height)
        encoded_width, encoded_height = self.encoded_size or (width, height)
        self._temporary = self._stack.enter_context(
            atomic_write(self.path, overwrite=self._overwrite)
        )
        try:
            if self.suffix == ".mp4":
                # faststart moves the index to the front so browsers stream the file
                container = av.open(
                    str(self._temporary), "w", format="mp4", options={"movflags": "+faststart"}
                )
                options = {"crf": str(_X264_CRF[self.quality]), "preset": "medium"}
                codec = "libx264"
            elif self.suffix == ".webm":
                container = av.open(str(self._temporary), "w", format="webm")
                # b=0 with crf is VP9's constant-quality mode; cpu-used 4 and row-mt keep it
                # quick enough on a few cores at a small cost in size
                options = {
                    "crf": str(_VP9_CRF[self.quality]),
                    "b": "0",
                    "deadline": "good",
                    "cpu-used": "4",
                    "row-mt": "1",
                }
                codec = "libvpx-vp9"
            else:
                container = av.open(str(self._temporary), "w", format="gif", options={"loop": "0"})
                options, codec = {}, "gif"
            self._container = container
            stream = container.add_stream(codec, rate=self.rate, options=options)
            stream.width, stream.height = encoded_width, encoded_height
            if self.suffix == ".gif":
                stream.pix_fmt = "pal8"
                self._gif_graph = self._palette_graph(width, height)
            else:
                stream.pix_fmt = "yuv420p"
                context = stream.codec_context
                context.colorspace = Colorspace.ITU709
                context.color_range = ColorRange.MPEG
                context.color_primaries = 1  # BT.709
                context.color_trc = 1  # BT.709
                if self._sound is not None:
                    audio_codec = AUDIO_CODECS[self.suffix]
                    self._audio = AudioEncoder(container, audio_codec, self._sound)
            self._stream = stream
        except av.error.FFmpegError as error:
            raise OutputError(
                f"cannot start writing {self.path}: {error}",
                hint="check the frame size and that FFmpeg was built with this codec",
            ) from error

    def _palette_graph(self, width: int, height: int) -> av.filter.Graph:
        """frames -> split -> (palettegen over all frames) -> paletteuse -> sink."""
        graph = av.filter.Graph()
        source = graph.add_buffer(
            width=width, height=height, format="rgb24", time_base=1 / self.rate
        )
        split = graph.add("split")
        palette = graph.add("palettegen", "stats_mode=full")
        # ordered dithering: no banding on smooth renders, stable from frame to frame
        apply = graph.add("paletteuse", "dither=bayer:bayer_scale=5")
        sink = graph.add("buffersink")
        source.link_to(split)
        split.link_to(palette, 0, 0)
        split.link_to(apply, 1, 0)
        palette.link_to(apply, 0, 1)
        apply.link_to(sink)
        graph.configure()
        return graph

    def write(self, frame: np.ndarray) -> None:
        """Append one ``uint8 [H,W,3]`` RGB frame."""
        if self._closed:
            raise ValueError(f"the writer of {self.path} is closed")
        array = _check_frame(frame)
        height, width = array.shape[:2]
        if self._container is None:
            self._open(width, height)
        if (width, height) != self._size:
            expected = "x".join(map(str, self._size or ()))
            raise ValueError(f"frame is {width}x{height} but the video is {expected}")
        assert self._container is not None and self._stream is not None
        index = self.frames_written
        try:
            if self._gif_graph is not None:
                video_frame = av.VideoFrame.from_ndarray(array, format="rgb24")
                video_frame.pts = index
                video_frame.time_base = 1 / self.rate
                self._gif_graph.push(video_frame)
            else:
                encoded_width, encoded_height = self.encoded_size or (width, height)
                if (encoded_width, encoded_height) != (width, height):
                    pad = ((0, encoded_height - height), (0, encoded_width - width), (0, 0))
                    array = np.pad(array, pad, mode="edge")
                video_frame = av.VideoFrame.from_ndarray(array, format="rgb24").reformat(
                    format="yuv420p",
                    dst_colorspace=Colorspace.ITU709,
                    dst_color_range=ColorRange.MPEG,
                    # exact rounding: the default fast path is off by a level or two
                    interpolation=Interpolation.BILINEAR | Interpolation.ACCURATE_RND,
                )
                video_frame.pts = index
                video_frame.time_base = 1 / self.rate
                for packet in self._stream.encode(video_frame):
                    self._container.mux(packet)
                if self._audio is not None:
                    # audio follows the video as it grows, so the file is interleaved
                    self._audio.feed_until((index + 1) / self.rate)
        except av.error.FFmpegError as error:
            raise OutputError(f"could not encode {self.path}: {error}") from error
        self.frames_written += 1

    def close(self) -> Path:
        """Finish the file and move it into place; returns its path."""
        if self._closed:
            return self.path
        if self.frames_written == 0:
            error = OutputError(
                f"no frames were given for {self.path}", hint="write at least one frame"
            )
            self._finish(error)
            raise error
        try:
            assert self._container is not None and self._stream is not None
            if self._gif_graph is not None:
                self._drain_gif()
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            if self._audio is not None:
                self._audio.finish(self.frames_written / self.rate)
        except BaseException as error:
            self._finish(error)
            if isinstance(error, av.error.FFmpegError):
                raise OutputError(f"could not encode {self.path}: {error}") from error
            raise
        self._finish(None)
        return self.path

    def abort(self) -> None:
        """Stop writing and remove everything written so far."""
        if not self._closed:
            with contextlib.suppress(_Aborted):
                self._finish(_Aborted())

    def _drain_gif(self) -> None:
        assert self._gif_graph is not None and self._stream is not None
        assert self._container is not None
        self._gif_graph.push(None)
        while True:
            try:
                paletted = self._gif_graph.pull()
            except (av.error.EOFError, av.error.BlockingIOError):
                break
            for packet in self._stream.encode(paletted):
                self._container.mux(packet)

    def _finish(self, error: BaseException | None) -> None:
        """Close the container, then commit (no error) or delete (error) the temporary file.

        Closing writes the muxer's last data (the mp4 index), so it can fail too (disk full):
        that failure is raised as an ``OutputError`` when no earlier error is on its way.
        """
        self._closed = True
        close_error = None
        try:
            if self._audio is not None:
                self._audio.close()
            if self._container is not None:
                self._container.close()
        except av.error.FFmpegError as failure:
            close_error = OutputError(
                f"could not finish {self.path}: {failure}",
                hint="check free disk space and the permissions of the output folder",
            )
            close_error.__cause__ = failure
        error = error if error is not None else close_error
        if error is None:
            self._stack.close()  # renames the temporary file to the target
            return
        # atomic_write removes the temporary file; it re-raises what it was given, which a
        # context manager's __exit__ reports by returning False rather than raising
        self._stack.__exit__(type(error), error, error.__traceback__)
        if error is close_error:
            raise close_error

    def __enter__(self) -> VideoWriter:
        return self

    def __del__(self) -> None:
        # a writer dropped without close() must not leave its hidden temporary file around
        with contextlib.suppress(Exception):
            self.abort()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        else:
            self.abort()


class _Aborted(Exception):
    """Handed to atomic_write to make it discard the temporary file."""


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float | Fraction,
    *,
    quality: Quality = "high",
    audio: Sound | None = None,
    overwrite: bool = True,
) -> Path:
    """Write ``uint8 [H,W,3]`` RGB frames as a video; the format follows the suffix.

    ``audio`` is an optional soundtrack, as for :class:`VideoWriter`."""
    with VideoWriter(path, fps, quality=quality, audio=audio, overwrite=overwrite) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.path


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, from its headers and its first two frames.

    ``frame_count`` is None when the container does not store it (WebM/Matroska);
    ``duration_s`` is the video stream's duration (else the file's), None if unknown.
    ``width``/``height`` are upright, i.e. swapped for a video tagged as rotated by 90 degrees.
    ``has_audio`` says the file has a sound stream; ``audio_codec`` is None when it has none
    that this FFmpeg can decode (see :attr:`audio_decodable`). ``still`` is True for a still
    image or a video of one frame: nothing in it moves. ``container`` is FFmpeg's name of the
    file format (``"mov,mp4,m4a,3gp,3g2,mj2"``, ``"png_pipe"`` ...).
    """

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int | None
    duration_s: float | None
    codec: str
    variable_frame_rate: bool
    rotation: int
    has_audio: bool
    audio_codec: str | None
    audio_sample_rate: int | None
    still: bool = False
    container: str = ""

    @property
    def audio_decodable(self) -> bool:
        """Whether the file has sound that this FFmpeg can decode."""
        return self.audio_codec is not None

    @property
    def is_image(self) -> bool:
        """Whether the file is a still image format (PNG, JPEG, ...) rather than a video."""
        return self.container == "image2" or self.container.endswith("_pipe")


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's metadata, decoding at most its first two frames (for the rotation tag,
    to be sure there is a frame and to tell a still from a video); ``InputError`` with a hint
    if it is missing, not a video, has no video stream it can decode, no frames, or declares
    more than the limits (:mod:`unflat.io.limits`) allow."""
    with VideoReader(path, threads=False) as reader:
        return reader.info


def check_moving(info: VideoInfo, hint: str) -> None:
    """``InputError`` with ``hint`` if ``info`` is a still image or a one-frame video, where
    unflat needs motion (one frame would make a 0.04 s result)."""
    if not info.still:
        return
    if info.is_image:
        raise InputError(f"{info.path} is a still image ({info.codec}), not a video", hint)
    raise InputError(f"{info.path} has a single frame: nothing in it moves", hint)


def _video_stream(
    source: Path, container: av.container.InputContainer
) -> av.video.stream.VideoStream:
    """The first decodable video stream, after checking what its header declares."""
    stream = first_stream(source, container, "video")
    context = stream.codec_context
    if not context.width or not context.height:
        raise InputError(f"{source} has a video stream without a size", hint="the file is broken")
    check_limit(source, "pixels per frame", context.width * context.height, "max_pixels")
    frames = int(stream.frames) if stream.frames and stream.frames > 0 else None
    Budget(source, "video").check_declared(declared_seconds(container, stream), frames)
    return stream


def _decoded_frames(
    source: Path, container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> Iterator[av.VideoFrame]:
    """The stream's frames, stopped with ``InputError`` past the frame and seconds limits."""
    budget = Budget(source, "video")
    with guarded(source, "video"), settled(stream):
        for frame in container.decode(stream):
            budget.spend(time=frame.time)
            yield frame


def _no_frames(source: Path) -> InputError:
    return InputError(f"{source} has no frames", hint="the video is empty or was cut off")


def _frame_rate(
    source: Path, stream: av.video.stream.VideoStream, count: int | None, seconds: float | None
) -> tuple[float, bool]:
    """The average frame rate and whether it is variable (module docstring)."""
    nominal = stream.base_rate or stream.guessed_rate
    candidates = [count / seconds if count and seconds else None, stream.average_rate, nominal]
    rates = [float(r) for r in candidates if r is not None and 0 < float(r) < math.inf]
    if not rates:
        raise InputError(f"{source} does not say its frame rate", hint="re-encode the video")
    fps = rates[0]
    variable = bool(nominal) and abs(fps - float(nominal)) > _VFR_TOLERANCE * float(nominal)
    return fps, variable


def _info(
    source: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    head: list[av.VideoFrame],
) -> VideoInfo:
    context = stream.codec_context
    frame_count = int(stream.frames) if stream.frames and stream.frames > 0 else None
    duration_s = declared_seconds(container, stream)
    fps, variable = _frame_rate(source, stream, frame_count, duration_s)
    rotation = _quarter_turns(head[0].rotation or 0) * 90
    width, height = context.width, context.height
    if rotation % 180:
        width, height = height, width
    audio = next((s for s in container.streams.audio if s.codec_context is not None), None)
    return VideoInfo(
        path=source,
        width=int(width),
        height=int(height),
        fps=fps,
        frame_count=frame_count,
        duration_s=duration_s,
        codec=context.name,
        variable_frame_rate=variable,
        rotation=rotation,
        has_audio=bool(container.streams.audio),
        audio_codec=None if audio is None else audio.codec_context.name,
        audio_sample_rate=None if audio is None else int(audio.codec_context.sample_rate),
        still=len(head) < 2,
        container=container.format.name,
    )


def _quarter_turns(degrees: float) -> int:
    """Counter-clockwise quarter turns (0-3) for a display rotation in degrees."""
    return round(degrees / 90.0) % 4


class VideoReader:
    """Decoded frames of a video (iterate for ``uint8 [H,W,3]`` RGB), plus its :class:`VideoInfo`.

    Opened by :func:`read_video`, which already decodes the first two frames so that a file
    without frames fails there. Frames are decoded one at a time as they are iterated (nothing
    is held beyond the next frame), and decoding stops with ``InputError`` past the limits of
    :mod:`unflat.io.limits`. ``timestamps`` lists the time in seconds of each frame decoded so
    far. Iterate once; close it (or use ``with``) to free the decoder. ``threads=False`` decodes
    on one thread (quicker to start, for a look at the first frames).
    """

    def __init__(self, path: str | os.PathLike[str], *, threads: bool = True) -> None:
        source = Path(path).expanduser()
        self._container = open_input(source, "video")
        try:
            with guarded(source, "video"):
                stream = _video_stream(source, self._container)
                if threads:
                    stream.thread_type = "AUTO"  # frame threads: several times faster for H.264
                self._decoded = _decoded_frames(source, self._container, stream)
                head = list(itertools.islice(self._decoded, 2))
                if not head:
                    raise _no_frames(source)
                self.info = _info(source, self._container, stream, head)
        except BaseException:
            self._container.close()
            raise
        self.timestamps: list[float] = []
        self._start: float | None = None
        self._head: list[av.VideoFrame] = head
        self._started = False

    path = property(lambda self: self.info.path)
    width = property(lambda self: self.info.width)
    height = property(lambda self: self.info.height)
    fps = property(lambda self: self.info.fps)
    frame_count = property(lambda self: self.info.frame_count)
    has_audio = property(lambda self: self.info.has_audio)
    variable_frame_rate = property(lambda self: self.info.variable_frame_rate)

    def _rgb(self, frame: av.VideoFrame) -> np.ndarray:
        seconds = float(frame.time) if frame.time is not None else None
        if seconds is None:  # no timestamps in the file: assume a constant rate
            seconds = len(self.timestamps) / self.info.fps
        if self._start is None:
            self._start = seconds
        # times start at 0 whatever the container's first timestamp was
        self.timestamps.append(seconds - self._start)
        with guarded(self.info.path, "video"):
            rgb = frame.to_ndarray(format="rgb24")
        turns = _quarter_turns(frame.rotation) if frame.rotation else 0
        return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._started:
            raise ValueError("a VideoReader can be iterated only once; call read_video again")
        self._started = True
        head, self._head = self._head, []
        for frame in itertools.chain(head, self._decoded):
            yield self._rgb(frame)

    def read_all(self) -> np.ndarray:
        """All (remaining) frames as one ``uint8 [N,H,W,3]`` array (bounded by the limits;
        prefer iterating, which holds one frame at a time)."""
        return np.stack(list(self))

    def close(self) -> None:
        self._decoded.close()
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_video(path: str | os.PathLike[str]) -> VideoReader:
    """Open a video for reading; ``InputError`` (with a hint) if it is missing, not a video,
    has no video stream it can decode, no frames, or declares more than the limits allow.
    See :class:`VideoReader`."""
    return VideoReader(path)
