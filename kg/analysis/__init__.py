"""Analyses over a store: related trials, health score, timeline, landscapes, networks, statistics: functions over
the store and the indexes saved beside it."""
