"""The task engine: every state change is a task that is queued, run once, and ends COMPLETED or FAILED."""
