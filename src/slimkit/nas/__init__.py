"""Differentiable architecture search: the DARTS cell space, DARTS 1st/2nd order and RARTS.

- :mod:`slimkit.nas.ops`: the eight candidate operations;
- :mod:`slimkit.nas.supernet`: the search supernet (``darts_supernet``) with α;
- :mod:`slimkit.nas.search`: the search loops (:class:`ArchitectureSearch`);
- :mod:`slimkit.nas.genotype`: derivation, ``genotype.json``, the published DARTS genotypes;
- :mod:`slimkit.nas.network`: ``darts_net``, a network built from a genotype;
- :mod:`slimkit.nas.retrain`: the ``darts_retrain`` term (auxiliary loss, drop-path ramp);
- :mod:`slimkit.nas.solvable`: the linear–quadratic model with closed-form fixed points;
- :mod:`slimkit.nas.plots`: α curves, cell diagrams, the solvable model's trajectories.

The ``search`` stage (:mod:`slimkit.stages.search`) runs a search inside a recipe.
"""
