"""Autoregressive models."""
