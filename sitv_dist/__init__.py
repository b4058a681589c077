"""sitv-dist: distributed sweeps of language-model loss landscapes along task vectors."""
__version__ = "0.1.0"
