"""The project: the folder a user works in, its files and the record of what each run used.

Capabilities depend on this package; it depends on the shared utilities only.
"""
