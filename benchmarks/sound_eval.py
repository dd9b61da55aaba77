"""Sound measured on the shared clips: lip sync of ``unflat dub`` and onsets of ``unflat foley``.

    python benchmarks/sound_eval.py [--shared ../shared] [--runs 3] [--piper VOICE.onnx]

Prints markdown tables (the ones in docs/sound.md and BENCHMARKS.md). Times are medians of
``--runs`` runs; scores are deterministic.
"""

from __future__ import annotations

import argparse
import statistics
from functools import partial
from pathlib import Path

from unflat.face.track import track
from unflat.sound.evaluate import dub_sync, foley_onsets
from unflat.sound.tts import EspeakVoice, PiperVoice
from unflat.sound.tts.speech import Voice

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "tests" / "data" / "sound"
TALKS = ("talk_1", "talk_2")
EFFECTS = ("avsync_0", "avsync_1", "avsync_2", "car", "drum", "gun")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--piper", type=Path, help="also measure this Piper voice (.onnx)")
    args = parser.parse_args()
    voices: list[tuple[str, Voice]] = [("eSpeak NG", EspeakVoice())]
    if args.piper is not None:
        voices.append((f"Piper {args.piper.stem}", PiperVoice(args.piper)))
    videos = args.shared / "data" / "faces" / "videos"
    print("| clip | voice | speech | span IoU | onset ms | offset ms | lag ms (r) | bilabial hits "
          "| WER |\n|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    speed = []
    for name in TALKS:
        for voice_name, voice in voices:
            runs = [dub_sync(videos / f"{name}.mp4", (TRANSCRIPTS / f"{name}.txt").read_text(),
                             partial(track, irises=False), voice=voice, recognise=i == 0)
                    for i in range(args.runs)]  # fmt: skip
            first = runs[0]
            rows = [("uniform stretch", first.uniform), ("aligned", first.aligned)]
            if voice_name == voices[0][0]:
                rows.insert(0, ("original voice", first.original))
            for label, s in rows:
                hits = f"{s.bilabial_hits:.2f} of {s.bilabials}" if s.bilabials else "-"
                wer = f"{s.wer:.2f}" if s.wer is not None else "-"
                who = "" if label == "original voice" else voice_name
                print(f"| {name} | {who} | {label} | {s.span_iou:.2f} | {_ms(s.onset_error)} | "
                      f"{_ms(s.offset_error)} | {_ms(s.lag)} ({s.lag_correlation:.2f}) | "
                      f"{hits} | {wer} |")  # fmt: skip
            if first.natural_wer is not None:
                print(f"| {name} | {voice_name} | natural pace (no fitting) | | | | | | "
                      f"{first.natural_wer:.2f} |")  # fmt: skip
            track = statistics.median(r.track_seconds for r in runs)
            speech = statistics.median(r.speech_seconds for r in runs)
            speed.append((name, voice_name, first.seconds, track, speech))
    print()
    print("| clip | voice | length s | face tracking s | speech s | dub real-time factor |")
    print("|---|---|---|---|---|---|")
    for name, voice_name, length, track, speech in speed:
        print(f"| {name} | {voice_name} | {length:.1f} | {track:.2f} | {speech:.2f} | "
              f"{(track + speech) / length:.2f} |")  # fmt: skip
    print()
    print("| clip | length s | reference onsets | impacts | precision | recall | F1 | RTF |")
    print("|---|---|---|---|---|---|---|---|")
    clips = args.shared / "data" / "audio" / "av"
    for name in EFFECTS:
        runs = [foley_onsets(clips / f"{name}.mp4") for _ in range(args.runs)]
        r = runs[0]
        rtf = statistics.median(x.real_time_factor for x in runs)
        print(f"| {name} | {r.seconds:.1f} | {r.reference_onsets} | {r.impacts} | "
              f"{r.precision:.2f} | {r.recall:.2f} | {r.f1:.2f} | {rtf:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
