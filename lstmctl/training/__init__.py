"""Fitting repeats: the plain Keras path and the compiled JAX replica trainer."""
