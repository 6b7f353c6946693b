"""Feature extractors shared by metrics: face landmarks, identity embeddings, Inception features."""
