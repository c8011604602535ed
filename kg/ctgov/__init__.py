"""ClinicalTrials.gov: record files, the API v2 client, harvest folders, and the mapping of one record to quads.

Nothing here writes a store: the pipeline (:mod:`kg.pipeline`) does.
"""
