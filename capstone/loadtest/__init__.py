"""A bounded load test of the poll system on loopback: gunicorn processes, a threaded client."""
