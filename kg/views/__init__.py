"""Views that people look at: the explorer page, trial pages and landscape reports (HTML written from the store)."""
