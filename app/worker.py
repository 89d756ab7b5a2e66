"""The background worker's entry point: `huey_consumer app.worker.huey`.

It builds the app once, which installs every area and so imports every area's tasks (`Area.tasks`),
then serves the queue of app/jobs.py."""

from app import create_app
from app.jobs import huey, set_worker_app

set_worker_app(create_app())

__all__ = ["huey"]
