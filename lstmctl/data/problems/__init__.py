"""Generated problems (the lessons' data generators): ``data.problem: NAME``."""

from lstmctl.data.problems.registry import (
    Generated,
    ProblemParams,
    SampledParams,
    get_problem,
    problems,
    register_problem,
)

__all__ = [
    "Generated",
    "ProblemParams",
    "SampledParams",
    "get_problem",
    "problems",
    "register_problem",
]
