"""Drivers: where the federation's data comes from (today only a simulated one)."""
