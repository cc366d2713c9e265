"""Scoring: metrics in original units, baselines, summaries over repeats."""
