"""Segmentation of the IVC, its tumor and the surrounding anatomy (classical image analysis)."""

from ivcplan.anatomy.segment import Seeds, Segmentation, merge, segment

__all__ = ["Seeds", "Segmentation", "merge", "segment"]
