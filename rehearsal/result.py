"""What a rehearsal check reports: the problems (each one line naming what is wrong) and the figures it measured."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Result:
    check: str
    problems: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems
