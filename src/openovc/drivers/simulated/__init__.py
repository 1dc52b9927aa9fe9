"""The simulated driver: a generated or file-described federation that behaves like a real one."""
