"""Sound for silent video: when a face speaks (from its lips) and when a voice does (from audio)."""

from unflat.sound.activity import SpeechActivity, speech_activity
from unflat.sound.voice_activity import voice_activity

__all__ = ["SpeechActivity", "speech_activity", "voice_activity"]
