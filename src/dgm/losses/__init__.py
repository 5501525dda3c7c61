"""Objectives, separate from architectures: evidence bounds and adversarial divergences."""
