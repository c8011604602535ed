"""kg: ClinicalTrials.gov records and the MeSH vocabulary as an RDF knowledge graph of related trials."""

__version__ = "0.1.0"
