"""Helm hook: apply every service's migrations before the new release's pods start.

MIGRATE_TARGETS lists `package=VARIABLE` pairs separated by spaces: the service package whose `migrations/`
folder applies, and the environment variable holding that database's DSN (from an existing Secret). The kit's
runner takes the same advisory lock the services take at start, so a pod starting meanwhile waits.
"""

import asyncio
import importlib.resources
import os
from pathlib import Path

from mpp_kit.db import migrate


async def main() -> None:
    for target in os.environ["MIGRATE_TARGETS"].split():
        package, _, variable = target.partition("=")
        folder = Path(str(importlib.resources.files(package) / "migrations"))
        applied = await migrate(os.environ[variable], folder)
        print(f"{variable}: {package} migrations applied now: {applied or 'none'}", flush=True)


asyncio.run(main())
