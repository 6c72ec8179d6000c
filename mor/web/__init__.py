"""mor's own pages: server-rendered HTML in Thai, Lao and English."""
