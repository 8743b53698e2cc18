"""SeNT: Semantic Neural Latent Traversal on the dMelodies data set."""

from sent.errors import SentError

__all__ = ["SentError"]
__version__ = "0.1.0"
