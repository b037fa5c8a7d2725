"""Plumbing shared by the Project Nexus notebooks.

Teaching code lives in the notebooks. This package holds only what every chapter needs:
service configuration (embedded or real), throwaway workspaces, timing, the plot style,
datasets and exercise self-checks.
"""

from nexus import datasets, django_env
from nexus.bench import Timing, ameasure, measure, stopwatch, sweep
from nexus.checks import Case, acheck, check
from nexus.plotting import growth_plot, use_style
from nexus.services import ServiceUnavailable, doctor
from nexus.workspace import Workspace

__all__ = [
    "Case",
    "ServiceUnavailable",
    "Timing",
    "Workspace",
    "acheck",
    "ameasure",
    "check",
    "datasets",
    "django_env",
    "doctor",
    "growth_plot",
    "measure",
    "stopwatch",
    "sweep",
    "use_style",
]
