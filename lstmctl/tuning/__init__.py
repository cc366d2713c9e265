"""``lstmctl tune``: search a space of spec keys, every trial scored over repeats.

The study lives in Optuna storage (SQLite in the run directory by default, or
any database URL), so it can be resumed and shared by many workers. Nothing
heavy is imported here: the spec loads :mod:`lstmctl.spec.tune_config`.
"""
