"""Clients: the Python SDK (``sdk.py``) and the ``seqedit`` command line (``cli.py``)."""
