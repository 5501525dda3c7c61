"""Figures and HTML reports built from run folders (config.json, metrics.jsonl, samples/)."""
