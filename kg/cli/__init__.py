"""The ``kg`` command line and its terminal views."""
