"""The kubeseed offline bundle builder (command line: ``tools/bundle/bundle.py``)."""
