"""Tandem robots: the workflow language, the engine, the action library."""
