"""Data preparation (lesson 3): load, clean, transform, scale, window, split."""
