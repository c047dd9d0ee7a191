"""Background work: procrastinate jobs (retries, locks, schedules) and queue consumers."""
