"""Ports: what services and the simulator need from storage and from each other, a module per port."""
