"""Text to speech with phone timings: eSpeak NG for every install, Piper voices by path."""

from unflat.sound.tts.espeak import EspeakVoice, list_voices
from unflat.sound.tts.speech import Phone, Speech

__all__ = ["EspeakVoice", "Phone", "Speech", "list_voices"]
