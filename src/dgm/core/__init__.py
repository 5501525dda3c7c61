"""Contracts, errors, configuration parsing and seeding: the layer everything else builds on."""
