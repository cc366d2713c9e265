"""Lessons 13 and 14, as they were imported before the split (issue 12).

The workflows now live in :mod:`lstmctl.workflows.finalize`,
:mod:`lstmctl.workflows.update` and :mod:`lstmctl.workflows.generate`; this
module only re-exports them for callers not yet moved (the api facade).
"""

from __future__ import annotations

from lstmctl.workflows.finalize import finalize
from lstmctl.workflows.generate import generate
from lstmctl.workflows.modelfiles import SavedModel
from lstmctl.workflows.update import SCHEMES, _relocate, update

__all__ = ["SCHEMES", "SavedModel", "_relocate", "finalize", "generate", "update"]
