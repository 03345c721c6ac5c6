"""edgemood: multimodal (voice, face, words) emotion recognition for edge devices."""

__version__ = "0.1.0"
