"""The model directory (``saved/NAME/``): its format, writing, opening and verifying it,
the ONNX export, and the check of ``model.keras`` before Keras reads it."""
