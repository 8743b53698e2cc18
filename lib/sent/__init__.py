"""SeNT: Semantic Neural Latent Traversal.

The package has four layers, each importing only from those before it:
  sent.util        errors, atomic file I/O, argument validation, the command-line layer
  sent.core        domain-free SeNT: plug-in interface, repositories, pairs, MI, traversal
                   networks and their training, scores, verified edits, baselines
  sent.dmelodies   the dMelodies data set, its attribute extractor, the VAE zoo and the built-in plug-in
  sent.evaluation  results, the paper's tables, plots, reports, shipped repositories
and sent.tools, one module per command. What a plug-in or a script needs is exported here.
"""

from sent.core.plugin import Attribute, Plugin, invalid, load_plugin
from sent.core.repository import Repository
from sent.core.scores import scores, success_fraction
from sent.core.traversal import SentOptions, train_sent, train_zc
from sent.core.verify import Judge, VerifyOptions, verified_codes
from sent.util.errors import SentError

__all__ = ["Attribute", "Judge", "Plugin", "Repository", "SentError", "SentOptions", "VerifyOptions", "invalid",
           "load_plugin", "scores", "success_fraction", "train_sent", "train_zc", "verified_codes"]
__version__ = "0.1.0"
