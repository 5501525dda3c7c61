"""Adversarial models."""
