"""Plumbing shared by the Project Nexus notebooks.

Teaching code lives in the notebooks. This package holds only what every chapter needs:
service configuration (embedded or real), throwaway workspaces, timing, the plot style,
datasets and exercise self-checks.
"""

from nexus import containers, datasets, django_env
from nexus.bench import Timing, ameasure, measure, stopwatch, sweep
from nexus.checks import Case, acheck, check, check_prediction
from nexus.clock import ManualClock
from nexus.plotting import growth_plot, use_style
from nexus.services import ServiceUnavailable, doctor
from nexus.tools import tool
from nexus.workspace import Workspace, free_port, wait_for_port

__all__ = [
    "Case",
    "ManualClock",
    "ServiceUnavailable",
    "Timing",
    "Workspace",
    "acheck",
    "ameasure",
    "check",
    "check_prediction",
    "containers",
    "datasets",
    "django_env",
    "doctor",
    "free_port",
    "growth_plot",
    "measure",
    "stopwatch",
    "sweep",
    "tool",
    "use_style",
    "wait_for_port",
]
