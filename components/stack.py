"""Composes the stage's stack from its typed config and exports what users and the other tools read.

The component resources (edge, media, data, functions, APIs, auth, realtime, schedules, secrets, monitoring)
are added here as they are built; see the README's roadmap.
"""

from __future__ import annotations

import pulumi

from components.config import StageConfig, load_stage_config


def build_stack() -> StageConfig:
    config = load_stage_config()
    pulumi.export("stage", config.stage)
    pulumi.export("region", config.region)
    return config
