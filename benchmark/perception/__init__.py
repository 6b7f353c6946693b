"""Face perception shared by metrics, adapters and protocols: landmark backends, identity embeddings,
Inception features, SyncNet, and the geometry of iBUG-68 landmarks.

This layer sits on the core (benchmark.core.types, settings, checkpoints, ...) and below metrics, adapters
and protocols, which all use it and never import each other for it.
"""
