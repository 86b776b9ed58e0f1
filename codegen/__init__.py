"""Quantisation, the bit-exact integer reference, the float reference and the C emitters."""
