"""The only writers of a store: build, MeSH load, information content, update, validation of the result."""
