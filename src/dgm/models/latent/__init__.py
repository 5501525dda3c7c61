"""Latent models."""
