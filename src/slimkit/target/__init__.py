"""Compression targets: one budget (MACs, parameters or latency) split over a recipe's stages.

A recipe's ``target:`` section (:class:`~slimkit.target.config.TargetConfig`) names what the
final model may cost; :func:`~slimkit.target.plan.plan_target` splits it over the ``prune`` and
``factorize`` stages whose ``rule`` is ``target`` and checks, before any training, that the
guards of those stages can reach it. The ``bn_sparsity`` term with ``lam: auto`` steers λ
towards the share of the ``prune`` stage that follows it (:mod:`slimkit.sparsity.controller`).
"""
