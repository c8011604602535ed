"""Analyses over a store: statistics, trial summaries (and, later, related trials, health, landscapes)."""
