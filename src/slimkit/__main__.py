"""``python -m slimkit`` (also what ``torchrun -m slimkit`` runs)."""

from slimkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
