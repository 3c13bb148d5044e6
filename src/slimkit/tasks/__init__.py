"""Learning problems: what is specific to a task (loss, metrics, batches, export).

A recipe names its task in a ``task`` section (default ``classification``)::

    task: {name: regression, loss: huber}

Importing this package is light (no torch); the task classes load on first use.
"""
