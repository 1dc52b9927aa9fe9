"""For users' own test suites: scenario files, and a pytest plugin that serves OpenOVC to the tests."""

from openovc.testing.scenario import Scenario, ScenarioError, load_scenario
from openovc.testing.server import OpenOVCServer

__all__ = ["OpenOVCServer", "Scenario", "ScenarioError", "load_scenario"]
