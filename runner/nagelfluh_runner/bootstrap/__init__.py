"""The bootstrap environment: the process types every nagelfluh install offers.

One module per type, so the runner imports only the type it runs.
"""
