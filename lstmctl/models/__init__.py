"""Architectures by name: ``@register("name")`` on a ``build(spec, shapes)`` function."""

from lstmctl.models.registry import Shapes, architectures, build_model, get_builder, register

__all__ = ["Shapes", "architectures", "build_model", "get_builder", "register"]
