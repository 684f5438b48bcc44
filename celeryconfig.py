"""Celery's conventional settings module: patchbay's settings for a plain ``celery`` command.

``celery -A <app> worker --config celeryconfig`` (or ``app.config_from_object("celeryconfig")``)
reads the names here. patchbay's own code never imports this file: its
settings live in ``executor.celery_settings`` and are computed from the
``PATCHBAY_*`` environment when this module is imported.
"""

from executor.celery_settings import config

globals().update(config())
