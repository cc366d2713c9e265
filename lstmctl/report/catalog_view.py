"""The view of ``lstmctl list``: architectures, problems and metrics by section."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape


def catalog_rows(sections: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """One row per name (``--format csv``): its kind, name and description."""
    return [
        {"kind": kind, "name": name, "description": desc}
        for kind, items in sections.items()
        for name, desc in items.items()
    ]


def render_catalog(sections: dict[str, dict[str, str]], console: Console) -> None:
    """Each section's names and one-line descriptions, never wrapped."""
    for kind, items in sections.items():
        console.print(f"[bold]{kind}[/bold]", soft_wrap=True)
        if not items:
            console.print("  (none)", soft_wrap=True)
        for name, desc in items.items():
            # Escaped: descriptions are text, and may hold [brackets].
            console.print(f"  {name:<18} {escape(desc)}", soft_wrap=True)
