"""ivcplan: surgical planning of inferior vena cava tumors from CT."""

from ivcplan.labels import Label
from ivcplan.volume import Grid, Labelmap, Volume

__version__ = "0.1.0"
__all__ = ["Grid", "Label", "Labelmap", "Volume", "__version__"]
