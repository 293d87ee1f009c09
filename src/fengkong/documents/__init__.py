"""Documents: checks on uploaded ID cards, licences, certificates and seals."""

from fengkong.documents.reuse import ReuseIndex, image_fingerprint

__all__ = ["ReuseIndex", "image_fingerprint"]
