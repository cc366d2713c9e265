"""Serving a model directory: forecasts (no TensorFlow, Keras or JAX), engines, input rows,
and text generation."""
