"""dissect: grounded critiques of AI-alignment papers and essays."""

__version__ = "0.1.0"
