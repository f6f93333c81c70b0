"""Models the project has never seen, importable as `usermodels.strange:build` by the command-line tests."""
