"""Versioned data files of the OpenSim layer (marker sets)."""
