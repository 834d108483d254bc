"""spikeport.train: datasets, features, spike encoders, SLAYER models trained
quantization-aware, and the ANN baselines. Its modules import torch only where they
build or train networks (``models``, ``kws``, ``baselines``...); ``config``,
``features``, ``encoders``, ``speech_commands`` and ``corpus`` do not."""
