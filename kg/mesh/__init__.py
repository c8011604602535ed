"""MeSH from NLM: the ASCII files, their download, and the mapping of the vocabulary to SKOS quads.

Nothing here writes a store: the pipeline (:mod:`kg.pipeline`) does.
"""
