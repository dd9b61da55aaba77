"""Text to speech with phone timings: eSpeak NG for every install, Piper voices by path."""

from unflat.sound.tts.espeak import EspeakVoice, list_voices
from unflat.sound.tts.piper import PiperVoice
from unflat.sound.tts.speech import Phone, Speech, Voice

__all__ = ["EspeakVoice", "Phone", "PiperVoice", "Speech", "Voice", "list_voices"]
