"""Import every built-in stage, training term and structural edit so recipes can name them."""

import slimkit.distill  # noqa: F401  (registers the distill term)
import slimkit.lowrank  # noqa: F401
import slimkit.quant  # noqa: F401  (registers the quantize edit)
import slimkit.sparsity  # noqa: F401  (registers the bn_sparsity and sgl terms)
import slimkit.stages  # noqa: F401  (registers train, evaluate, export, measure, prune)
import slimkit.surgery  # noqa: F401  (registers the prune_channels edit)
