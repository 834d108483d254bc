"""spikeport.train: datasets, spike encoders and SLAYER models, trained quantization-aware."""
from spikeport.train.digits import load_digits_split
from spikeport.train.encoders import rate_encode
from spikeport.train.fit import fit_rate_classifier, predict
from spikeport.train.models import CUBA_DEFAULTS, DenseSNN

__all__ = [
    "load_digits_split", "rate_encode", "fit_rate_classifier", "predict",
    "CUBA_DEFAULTS", "DenseSNN",
]
