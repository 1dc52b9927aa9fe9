"""The demo-data generator: a whole federation from counts or from an inventory file."""
